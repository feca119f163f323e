import type pg from 'pg'
import { ticketTries } from './ticket-tries.js'
import type { AuditQuery, AuditRow, TicketDetail, TicketEnvelope, TicketSearchQuery, TicketSummary, TimelineEntry } from '@request-out/contracts'
import { decodeCursor, encodeCursor, timeInRange } from './cursor.js'
import { timelineId } from './event-ids.js'

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

const isoOrNull = (d: Date | null): string | null => d === null ? null : d.toISOString()
/** `abc*` → LIKE 'abc%' with LIKE's own characters escaped; anything else is exact. */
const likePrefix = (ticketId: string): string => ticketId.slice(0, -1).replace(/[\\%_]/g, (c) => `\\${c}`) + '%'

/** The newest acceptance of a ticket, or undefined when history has none. */
export async function latest (pool: pg.Pool, clientId: string, ticketId: string): Promise<StoredTicket | undefined> {
  const { rows } = await pool.query<{ product: string, code: string, record: TicketEnvelope | null }>(
    `SELECT product, code, record FROM tickets WHERE client_id = $1 AND ticket_id = $2
     ORDER BY accepted_at DESC LIMIT 1`, [clientId, ticketId])
  const row = rows[0]
  return row === undefined ? undefined : { product: row.product, code: row.code, record: row.record ?? undefined }
}

/** Whether any acceptance of the ticket has a stored record (what an erasure would erase). */
export async function hasRecord (pool: pg.Pool, clientId: string, ticketId: string): Promise<boolean> {
  const { rows } = await pool.query<{ found: boolean }>(
    'SELECT EXISTS (SELECT 1 FROM tickets WHERE client_id = $1 AND ticket_id = $2 AND record IS NOT NULL) AS found', [clientId, ticketId])
  return rows[0]?.found === true
}

/** Operators' search, newest first, one page. Throws BadCursorError for a cursor it did not write. */
export async function search (pool: pg.Pool, query: TicketFilter): Promise<Page<TicketSummary>> {
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
  bounds(query, where, param, 'accepted_at')
  const limit = query.Limit ?? 50
  const { rows } = await pool.query<TicketRow>(`
    SELECT id, client_id, ticket_id, product, code, accepted_at, finished_at, attempts FROM tickets
    ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
    ORDER BY accepted_at DESC, id DESC LIMIT ${param(limit + 1)}`, params)
  return page(rows, limit, (r) => ({ at: r.accepted_at.toISOString(), id: r.id }), summary)
}

/** A ticket's newest acceptance with its timeline; personal fields of the record are erased with `redact`. */
export async function detail (pool: pg.Pool, clientId: string, ticketId: string, redact: (record: TicketEnvelope, product: string) => TicketEnvelope): Promise<TicketDetail | undefined> {
  const { rows } = await pool.query<TicketRow & { request_id: string | null, trace_id: string | null, record: TicketEnvelope | null, personal_data_erased_at: Date | null }>(
    `SELECT id, client_id, ticket_id, product, code, accepted_at, finished_at, attempts, request_id, trace_id, record, personal_data_erased_at
     FROM tickets WHERE client_id = $1 AND ticket_id = $2 ORDER BY accepted_at DESC LIMIT 1`, [clientId, ticketId])
  const row = rows[0]
  if (row === undefined) return undefined
  const [events, actions] = await Promise.all([
    pool.query<{ event_id: string, type: string, at: Date, details: Record<string, unknown> }>(
      'SELECT event_id, type, at, details FROM ticket_events WHERE client_id = $1 AND ticket_id = $2 AND accepted_at = $3',
      [clientId, ticketId, row.accepted_at]),
    pool.query<{ event_id: string, action: string, at: Date, actor: string, address: string, before: unknown, after: unknown }>(
      `SELECT event_id, action, at, actor, address, before, after FROM audit_log
       WHERE client_id = $1 AND ticket_id = $2 AND at >= $3`, [clientId, ticketId, row.accepted_at])
  ])
  const timeline: TimelineEntry[] = [
    ...events.rows.map((e) => ({ Id: timelineId(e.event_id), At: e.at.toISOString(), Type: e.type, Details: e.details })),
    ...actions.rows.map((a) => ({ Id: timelineId(a.event_id), At: a.at.toISOString(), Type: a.action, Details: { Actor: a.actor, Address: a.address, Before: a.before, After: a.after } }))
  ].sort((a, b) => a.At.localeCompare(b.At))
  return {
    ...summary(row),
    RequestId: row.request_id,
    TraceId: row.trace_id,
    PersonalDataErasedAt: isoOrNull(row.personal_data_erased_at),
    Tries: ticketTries(timeline, row.record),
    Timeline: timeline,
    Record: row.record === null ? null : redact(row.record, row.product)
  }
}

/** Per product, the tickets whose final code is PRODUCT_FAILED that finished in the last hour and day (the dead letters). */
export async function deadLetters (pool: pg.Pool): Promise<Array<{ product: string, lastHour: number, lastDay: number }>> {
  // accepted_at bounds the index range (tickets_by_code); a ticket retried for longer than a day is rare.
  const { rows } = await pool.query<{ product: string, last_hour: string, last_day: string }>(`
    SELECT product, count(*) FILTER (WHERE finished_at >= now() - interval '1 hour') AS last_hour, count(*) AS last_day
    FROM tickets WHERE code = 'PRODUCT_FAILED' AND accepted_at >= now() - interval '2 days' AND finished_at >= now() - interval '1 day'
    GROUP BY product`)
  return rows.map((r) => ({ product: r.product, lastHour: Number(r.last_hour), lastDay: Number(r.last_day) }))
}

/** The audit trail, newest first, one page. */
export async function audit (pool: pg.Pool, query: AuditFilter): Promise<Page<AuditRow>> {
  const where: string[] = []
  const params: unknown[] = []
  const param = (value: unknown): string => { params.push(value); return `$${params.length}` }
  if (query.Actor !== undefined) where.push(`actor = ${param(query.Actor)}`)
  if (query.Action !== undefined) where.push(`action = ${param(query.Action)}`)
  bounds(query, where, param, 'at')
  const limit = query.Limit ?? 50
  const { rows } = await pool.query<AuditDbRow>(`
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

function bounds (query: { From?: string, To?: string, Cursor?: string }, where: string[], param: (v: unknown) => string, column: string): void {
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
