import type pg from 'pg'
import type { AuditQuery, AuditRow, TicketDetail, TicketEnvelope, TicketSearchQuery, TicketSummary, TimelineEntry } from '@request-out/contracts'
import { TicketEventType, type StreamEvent } from '@request-out/record-store'
import { decodeCursor, encodeCursor, timeInRange } from './cursor.js'
import { verifyAuditChain, type AuditChainState } from './audit-chain.js'
import { erasePersonalFields } from './personal-data.js'

/** A page's filters, with its size as a number. */
export type TicketFilter = Omit<TicketSearchQuery, 'Limit'> & { Limit?: number }
export type AuditFilter = Omit<AuditQuery, 'Limit'> & { Limit?: number }

/** A cursor that does not decode, or a time out of range: the caller answers 400 naming `field`. */
export class BadCursorError extends Error {
  override name = 'BadCursorError'
  constructor (message: string, readonly field = '/Cursor') {
    super(message)
  }
}

export interface StoredTicket {
  product: string
  code: string
  record: TicketEnvelope | undefined
}

export interface Page<T> {
  rows: T[]
  nextCursor: string | null
}

const iso = (ms: number): string => new Date(ms).toISOString()
const isoOrNull = (d: Date | null): string | null => d === null ? null : d.toISOString()
/** `abc*` → LIKE 'abc%' with LIKE's own characters escaped; anything else is exact. */
const likePrefix = (ticketId: string): string => ticketId.slice(0, -1).replace(/[\\%_]/g, (c) => `\\${c}`) + '%'

const DAY_MS = 86_400_000

/**
 * The ticket history in PostgreSQL: what the writer stores from the event streams, and what the
 * intake reads back (a ticket Redis no longer holds, search, a ticket's timeline, the audit trail).
 */
export class HistoryStore {
  readonly #pool: pg.Pool

  constructor (pool: pg.Pool) {
    this.#pool = pool
  }

  /**
   * Stores a batch of events in one transaction. Idempotent by event: an event stored before
   * (a batch written again after its writer died) changes nothing. Events of one ticket may come
   * in any order (several writers share the streams): each change is commutative.
   */
  async writeEvents (events: StreamEvent[], fieldsOf: (product: string) => ReadonlySet<string> = () => new Set()): Promise<void> {
    const ticketEvents = events.filter((e) => e.type !== TicketEventType.AUDIT)
    const auditEvents = events.filter((e) => e.type === TicketEventType.AUDIT)
    await this.#transaction(async (client) => {
      if (ticketEvents.length > 0) await this.#writeTicketEvents(client, ticketEvents)
      if (auditEvents.length > 0) await this.#writeAuditEvents(client, auditEvents)
      // Records of tickets whose personal data was erased before they arrived: erased before commit.
      if (ticketEvents.length > 0) await this.#eraseMarked(client, ticketEvents, fieldsOf)
    })
  }

  async #eraseMarked (client: pg.PoolClient, events: StreamEvent[], fieldsOf: (product: string) => ReadonlySet<string>): Promise<void> {
    const keys = [...new Set(events.filter((e) => e.type === TicketEventType.RECORD).map((e) => JSON.stringify([e.clientId, e.ticketId])))]
    if (keys.length === 0) return
    const { rows } = await client.query<{ id: string, product: string, record: TicketEnvelope }>(`
      SELECT t.id, t.product, t.record FROM tickets t
      JOIN personal_data_erasures e ON e.client_id = t.client_id AND e.ticket_id = t.ticket_id
      WHERE (t.client_id, t.ticket_id) IN (SELECT k->>0, k->>1 FROM jsonb_array_elements($1::jsonb) AS k)
        AND t.record IS NOT NULL AND t.personal_data_erased_at IS NULL`, [JSON.stringify(keys.map((k) => JSON.parse(k) as unknown))])
    for (const row of rows) await this.#storeErased(row, fieldsOf, client)
  }

  async #transaction<T> (work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.#pool.connect()
    // A checked-out client has no listener of the pool's: a server that goes away between two
    // queries would otherwise be an unhandled 'error' that ends the process. The failing query
    // rejects anyway, and the client is thrown away below rather than reused.
    const onError = (): void => {}
    client.on('error', onError)
    let failure: Error | undefined
    try {
      await client.query('BEGIN')
      const result = await work(client)
      await client.query('COMMIT')
      return result
    } catch (err) {
      failure = err instanceof Error ? err : new Error(String(err))
      await client.query('ROLLBACK').catch(() => {})
      throw err
    } finally {
      client.removeListener('error', onError)
      client.release(failure)
    }
  }

  async #writeTicketEvents (client: pg.PoolClient, events: StreamEvent[]): Promise<void> {
    const rows = events.map((e) => {
      // An event stored before fingerprints left the stream still carries its own: not kept.
      const { record, acceptedAt, fp: _fingerprint, ...details } = e.fields
      return {
        event_id: `${e.group}:${e.id}`,
        client_id: e.clientId,
        ticket_id: e.ticketId,
        accepted_at: e.type === TicketEventType.ACCEPTED ? iso(e.at) : acceptedAt ? iso(Number(acceptedAt)) : null,
        type: e.type,
        at: iso(e.at),
        details,
        // The record is kept once, on the ticket row (where erasure finds it), not in the event.
        record: record === undefined ? null : JSON.parse(record) as unknown
      }
    })
    // An event without its acceptance time (its ticket expired from Redis first) belongs to the
    // newest acceptance before it.
    const inserted = await client.query<{ event_id: string }>(`
      INSERT INTO ticket_events (event_id, client_id, ticket_id, accepted_at, type, at, details)
      SELECT e.event_id, e.client_id, e.ticket_id,
        COALESCE(e.accepted_at, (SELECT max(t.accepted_at) FROM tickets t
          WHERE t.client_id = e.client_id AND t.ticket_id = e.ticket_id AND t.accepted_at <= e.at), e.at),
        e.type, e.at, e.details
      FROM jsonb_to_recordset($1::jsonb) AS e(event_id text, client_id text, ticket_id text, accepted_at timestamptz,
        type text, at timestamptz, details jsonb)
      ORDER BY e.event_id
      ON CONFLICT (event_id) DO NOTHING
      RETURNING event_id`, [JSON.stringify(rows.map(({ record, ...row }) => row))])
    const fresh = inserted.rows.map((r) => r.event_id)
    if (fresh.length === 0) return
    await client.query(`
      INSERT INTO tickets (client_id, ticket_id, accepted_at, product, request_id, trace_id)
      SELECT client_id, ticket_id, accepted_at, details->>'product', NULLIF(details->>'requestId', ''), details->>'traceId'
      FROM ticket_events WHERE event_id = ANY($1) AND type = 'accepted'
      ORDER BY client_id, ticket_id, accepted_at
      ON CONFLICT (client_id, ticket_id, accepted_at) DO UPDATE
        SET product = EXCLUDED.product, request_id = EXCLUDED.request_id, trace_id = EXCLUDED.trace_id`, [fresh])
    await client.query(`
      INSERT INTO tickets (client_id, ticket_id, accepted_at, attempts)
      SELECT client_id, ticket_id, accepted_at, max((details->>'attempt')::int)
      FROM ticket_events WHERE event_id = ANY($1) AND type = 'try-failed'
      GROUP BY client_id, ticket_id, accepted_at
      ORDER BY client_id, ticket_id, accepted_at
      ON CONFLICT (client_id, ticket_id, accepted_at) DO UPDATE
        SET attempts = GREATEST(tickets.attempts, EXCLUDED.attempts)`, [fresh])
    const records = rows.filter((r) => r.record !== null && fresh.includes(r.event_id)).map((r) => ({ event_id: r.event_id, record: r.record }))
    if (records.length === 0) return
    // A later record replaces an earlier one (a PRODUCT_FAILED an operator retried); its personal
    // fields are new, so the erasure sweep looks at it again.
    await client.query(`
      INSERT INTO tickets (client_id, ticket_id, accepted_at, code, record, finished_at, attempts)
      SELECT DISTINCT ON (e.client_id, e.ticket_id, e.accepted_at)
        e.client_id, e.ticket_id, e.accepted_at, e.details->>'code', r.record, e.at, COALESCE((e.details->>'tries')::int, 1)
      FROM jsonb_to_recordset($1::jsonb) AS r(event_id text, record jsonb)
      JOIN ticket_events e ON e.event_id = r.event_id
      ORDER BY e.client_id, e.ticket_id, e.accepted_at, e.at DESC
      ON CONFLICT (client_id, ticket_id, accepted_at) DO UPDATE
        SET code = EXCLUDED.code, record = EXCLUDED.record, finished_at = EXCLUDED.finished_at,
            attempts = GREATEST(tickets.attempts, EXCLUDED.attempts), personal_data_erased_at = NULL
        WHERE tickets.finished_at IS NULL OR tickets.finished_at <= EXCLUDED.finished_at`, [JSON.stringify(records)])
  }

  async #writeAuditEvents (client: pg.PoolClient, events: StreamEvent[]): Promise<void> {
    const parse = (text: string | undefined): unknown => {
      try { return text === undefined ? null : JSON.parse(text) } catch { return text }
    }
    const rows = events.map((e) => ({
      event_id: `${e.group}:${e.id}`,
      at: iso(e.at),
      actor: e.fields.actor ?? '',
      address: e.fields.address ?? '',
      action: e.fields.action ?? '',
      target: e.fields.target ?? '',
      client_id: e.clientId === '' ? null : e.clientId,
      ticket_id: e.ticketId === '' ? null : e.ticketId,
      before: parse(e.fields.before),
      after: parse(e.fields.after)
    }))
    await client.query(`
      INSERT INTO audit_log (event_id, at, actor, address, action, target, client_id, ticket_id, before, after)
      SELECT * FROM jsonb_to_recordset($1::jsonb) AS a(event_id text, at timestamptz, actor text, address text,
        action text, target text, client_id text, ticket_id text, before jsonb, after jsonb)
      ON CONFLICT (event_id) DO NOTHING`, [JSON.stringify(rows)])
  }

  /** The audit trail's hash chain, checked from its oldest kept row to its newest. */
  async verifyAudit (): Promise<AuditChainState> {
    return await verifyAuditChain(this.#pool)
  }

  /** The newest acceptance of a ticket, or undefined when history has none. */
  async latest (clientId: string, ticketId: string): Promise<StoredTicket | undefined> {
    const { rows } = await this.#pool.query<{ product: string, code: string, record: TicketEnvelope | null }>(
      `SELECT product, code, record FROM tickets WHERE client_id = $1 AND ticket_id = $2
       ORDER BY accepted_at DESC LIMIT 1`, [clientId, ticketId])
    const row = rows[0]
    return row === undefined ? undefined : { product: row.product, code: row.code, record: row.record ?? undefined }
  }

  /** Operators' search, newest first, one page. Throws BadCursorError for a cursor it did not write. */
  async search (query: TicketFilter): Promise<Page<TicketSummary>> {
    const where: string[] = []
    const params: unknown[] = []
    const param = (value: unknown): string => { params.push(value); return `$${params.length}` }
    if (query.ClientId !== undefined) where.push(`client_id = ${param(query.ClientId)}`)
    if (query.TicketId !== undefined) {
      where.push(query.TicketId.endsWith('*')
        ? `ticket_id LIKE ${param(likePrefix(query.TicketId))}`
        : `ticket_id = ${param(query.TicketId)}`)
    }
    if (query.Product !== undefined) where.push(`product = ${param(query.Product)}`)
    if (query.Code !== undefined) where.push(`code = ${param(query.Code)}`)
    this.#bounds(query, where, param, 'accepted_at')
    const limit = query.Limit ?? 50
    const { rows } = await this.#pool.query<TicketRow>(`
      SELECT id, client_id, ticket_id, product, code, accepted_at, finished_at, attempts FROM tickets
      ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY accepted_at DESC, id DESC LIMIT ${param(limit + 1)}`, params)
    return page(rows, limit, (r) => ({ at: r.accepted_at.toISOString(), id: r.id }), summary)
  }

  /** A ticket's newest acceptance with its timeline; personal fields of the record are erased with `redact`. */
  async detail (clientId: string, ticketId: string, redact: (record: TicketEnvelope, product: string) => TicketEnvelope): Promise<TicketDetail | undefined> {
    const { rows } = await this.#pool.query<TicketRow & { request_id: string | null, trace_id: string | null, record: TicketEnvelope | null, personal_data_erased_at: Date | null }>(
      `SELECT id, client_id, ticket_id, product, code, accepted_at, finished_at, attempts, request_id, trace_id, record, personal_data_erased_at
       FROM tickets WHERE client_id = $1 AND ticket_id = $2 ORDER BY accepted_at DESC LIMIT 1`, [clientId, ticketId])
    const row = rows[0]
    if (row === undefined) return undefined
    const [events, actions] = await Promise.all([
      this.#pool.query<{ type: string, at: Date, details: Record<string, unknown> }>(
        'SELECT type, at, details FROM ticket_events WHERE client_id = $1 AND ticket_id = $2 AND accepted_at = $3',
        [clientId, ticketId, row.accepted_at]),
      this.#pool.query<{ action: string, at: Date, actor: string, address: string, before: unknown, after: unknown }>(
        `SELECT action, at, actor, address, before, after FROM audit_log
         WHERE client_id = $1 AND ticket_id = $2 AND at >= $3`, [clientId, ticketId, row.accepted_at])
    ])
    const timeline: TimelineEntry[] = [
      ...events.rows.map((e) => ({ At: e.at.toISOString(), Type: e.type, Details: e.details })),
      ...actions.rows.map((a) => ({ At: a.at.toISOString(), Type: a.action, Details: { Actor: a.actor, Address: a.address, Before: a.before, After: a.after } }))
    ].sort((a, b) => a.At.localeCompare(b.At))
    return {
      ...summary(row),
      RequestId: row.request_id,
      TraceId: row.trace_id,
      PersonalDataErasedAt: isoOrNull(row.personal_data_erased_at),
      Timeline: timeline,
      Record: row.record === null ? null : redact(row.record, row.product)
    }
  }

  /** The audit trail, newest first, one page. */
  async audit (query: AuditFilter): Promise<Page<AuditRow>> {
    const where: string[] = []
    const params: unknown[] = []
    const param = (value: unknown): string => { params.push(value); return `$${params.length}` }
    if (query.Actor !== undefined) where.push(`actor = ${param(query.Actor)}`)
    if (query.Action !== undefined) where.push(`action = ${param(query.Action)}`)
    this.#bounds(query, where, param, 'at')
    const limit = query.Limit ?? 50
    const { rows } = await this.#pool.query<AuditDbRow>(`
      SELECT id, at, actor, address, action, target, client_id, ticket_id, before, after FROM audit_log
      ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY at DESC, id DESC LIMIT ${param(limit + 1)}`, params)
    return page(rows, limit, (r) => ({ at: r.at.toISOString(), id: r.id }), (r) => ({
      At: r.at.toISOString(),
      Actor: r.actor,
      Address: r.address,
      Action: r.action,
      Target: r.target,
      ClientId: r.client_id,
      TicketId: r.ticket_id,
      Before: r.before,
      After: r.after
    }))
  }

  #bounds (query: { From?: string, To?: string, Cursor?: string }, where: string[], param: (v: unknown) => string, column: string): void {
    for (const field of ['From', 'To'] as const) {
      const value = query[field]
      if (value !== undefined && !timeInRange(value)) throw new BadCursorError(`${field} must be a time between the years 1 and 9999`, `/${field}`)
    }
    if (query.From !== undefined) where.push(`${column} >= ${param(query.From)}`)
    if (query.To !== undefined) where.push(`${column} < ${param(query.To)}`)
    if (query.Cursor !== undefined) {
      const position = decodeCursor(query.Cursor)
      if (position === undefined) throw new BadCursorError('Cursor is not one this API gave out')
      where.push(`(${column}, id) < (${param(position.at)}, ${param(position.id)})`)
    }
  }

  /**
   * Erases the personal fields of every stored record of the ticket (each acceptance) now.
   * Resolves how many records were erased.
   */
  async erase (clientId: string, ticketId: string, fieldsOf: (product: string) => ReadonlySet<string>): Promise<number> {
    // Kept first: a record the writers store from now on is stored erased (it sticks).
    await this.#pool.query('INSERT INTO personal_data_erasures (client_id, ticket_id) VALUES ($1, $2) ON CONFLICT DO NOTHING', [clientId, ticketId])
    const { rows } = await this.#pool.query<{ id: string, product: string, record: TicketEnvelope }>(
      'SELECT id, product, record FROM tickets WHERE client_id = $1 AND ticket_id = $2 AND record IS NOT NULL', [clientId, ticketId])
    for (const row of rows) await this.#storeErased(row, fieldsOf)
    return rows.length
  }

  /**
   * The retention sweep's erasure: records finished more than `days` ago, in batches, without
   * long locks (rows another sweep holds are skipped). Resolves how many were erased.
   */
  async eraseOlderThan (days: number, fieldsOf: (product: string) => ReadonlySet<string>, batch = 500): Promise<number> {
    let total = 0
    for (;;) {
      const n = await this.#transaction(async (client) => {
        const { rows } = await client.query<{ id: string, product: string, record: TicketEnvelope }>(
          `SELECT id, product, record FROM tickets
           WHERE personal_data_erased_at IS NULL AND record IS NOT NULL AND finished_at < $1
           LIMIT $2 FOR UPDATE SKIP LOCKED`, [new Date(Date.now() - days * DAY_MS), batch])
        for (const row of rows) await this.#storeErased(row, fieldsOf, client)
        return rows.length
      })
      total += n
      if (n < batch) return total
    }
  }

  async #storeErased (row: { id: string, product: string, record: TicketEnvelope }, fieldsOf: (product: string) => ReadonlySet<string>, db: pg.Pool | pg.PoolClient = this.#pool): Promise<void> {
    await db.query('UPDATE tickets SET record = $2, personal_data_erased_at = now() WHERE id = $1',
      [row.id, JSON.stringify(erasePersonalFields(row.record, fieldsOf(row.product)))])
  }

  /**
   * Retention: tickets and their events accepted more than `ticketDays` ago, audit rows older than
   * `auditDays`, deleted in batches (short transactions, no long locks). Resolves the rows deleted.
   */
  async deleteExpired (ticketDays: number, auditDays: number, batch = 5000): Promise<number> {
    let total = 0
    const ticketsBefore = new Date(Date.now() - ticketDays * DAY_MS)
    const auditBefore = new Date(Date.now() - auditDays * DAY_MS)
    const sweep = async (sql: string, before: Date, prepare?: string): Promise<void> => {
      for (;;) {
        const n = await this.#transaction(async (client) => {
          if (prepare !== undefined) await client.query(prepare)
          return (await client.query(sql, [before, batch])).rowCount ?? 0
        })
        total += n
        if (n < batch) return
      }
    }
    await sweep('DELETE FROM tickets WHERE id IN (SELECT id FROM tickets WHERE accepted_at < $1 LIMIT $2)', ticketsBefore)
    // An erasure is kept as long as the tickets it may apply to.
    await sweep('DELETE FROM personal_data_erasures WHERE ctid IN (SELECT ctid FROM personal_data_erasures WHERE erased_at < $1 LIMIT $2)', ticketsBefore)
    // By the events' own time (indexed): an event is never older than its ticket's acceptance.
    await sweep('DELETE FROM ticket_events WHERE event_id IN (SELECT event_id FROM ticket_events WHERE at < $1 LIMIT $2)', ticketsBefore)
    // The only deletion the audit trail's trigger lets through (see the migrations): the oldest
    // rows of the chain, up to the first one that is not old enough (so a row stays a little past
    // its retention when a newer one was stored before it), the last one's hash kept as the anchor.
    await sweep(`
      WITH cutoff AS (
        SELECT coalesce((SELECT min(seq) FROM audit_log WHERE at >= $1), (SELECT max(seq) + 1 FROM audit_log)) AS below
      ), gone AS (
        DELETE FROM audit_log WHERE seq IN (SELECT seq FROM audit_log WHERE seq < (SELECT below FROM cutoff) ORDER BY seq LIMIT $2)
        RETURNING seq, hash
      ), anchored AS (
        UPDATE audit_chain_anchor SET last_deleted_seq = last.seq, last_deleted_hash = last.hash
        FROM (SELECT seq, hash FROM gone ORDER BY seq DESC LIMIT 1) AS last WHERE id = 1 RETURNING 1
      )
      SELECT seq FROM gone`, auditBefore, "SELECT set_config('request_out.audit_retention', 'on', true)")
    return total
  }
}

interface TicketRow {
  id: string
  client_id: string
  ticket_id: string
  product: string
  code: string
  accepted_at: Date
  finished_at: Date | null
  attempts: number
}

interface AuditDbRow {
  id: string
  at: Date
  actor: string
  address: string
  action: string
  target: string
  client_id: string | null
  ticket_id: string | null
  before: unknown
  after: unknown
}

function summary (row: TicketRow): TicketSummary {
  return {
    ClientId: row.client_id,
    TicketId: row.ticket_id,
    Product: row.product,
    Code: row.code,
    AcceptedAt: row.accepted_at.toISOString(),
    FinishedAt: isoOrNull(row.finished_at),
    Attempts: row.attempts
  }
}

function page<R, T> (rows: R[], limit: number, position: (row: R) => { at: string, id: string }, map: (row: R) => T): Page<T> {
  const more = rows.length > limit
  const kept = more ? rows.slice(0, limit) : rows
  const last = kept[kept.length - 1]
  return { rows: kept.map(map), nextCursor: more && last !== undefined ? encodeCursor(position(last)) : null }
}
