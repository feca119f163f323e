import type pg from 'pg'
import { TicketEventType, type StreamEvent } from '@request-out/record-store'
import { PERSONAL_COLUMNS, storeErased, type PersonalRow } from './retention.js'
import { transaction } from './pg-transaction.js'

const iso = (ms: number): string => new Date(ms).toISOString()

/**
 * Stores a batch of events in one transaction. Idempotent by event: an event stored before
 * (a batch written again after its writer died) changes nothing. Events of one ticket may come
 * in any order (several writers share the streams): each change is commutative.
 */
export async function writeEvents (pool: pg.Pool, events: StreamEvent[], fieldsOf: (product: string) => ReadonlySet<string> = () => new Set()): Promise<void> {
  const ticketEvents = events.filter((e) => e.type !== TicketEventType.AUDIT)
  const auditEvents = events.filter((e) => e.type === TicketEventType.AUDIT)
  await transaction(pool, async (client) => {
    if (ticketEvents.length > 0) await writeTicketEvents(client, ticketEvents)
    if (auditEvents.length > 0) await writeAuditEvents(client, auditEvents)
    // Records of tickets whose personal data was erased before they arrived: erased before commit.
    if (ticketEvents.length > 0) await eraseMarked(client, ticketEvents, fieldsOf)
  })
}

async function eraseMarked (client: pg.PoolClient, events: StreamEvent[], fieldsOf: (product: string) => ReadonlySet<string>): Promise<void> {
  const keys = [...new Set(events.filter((e) => e.type === TicketEventType.RECORD).map((e) => JSON.stringify([e.clientId, e.ticketId])))]
  if (keys.length === 0) return
  const { rows } = await client.query<PersonalRow>(`
    SELECT ${PERSONAL_COLUMNS} FROM tickets WHERE id IN (
      SELECT t.id FROM tickets t
      JOIN personal_data_erasures e ON e.client_id = t.client_id AND e.ticket_id = t.ticket_id
      WHERE (t.client_id, t.ticket_id) IN (SELECT k->>0, k->>1 FROM jsonb_array_elements($1::jsonb) AS k)
        AND t.record IS NOT NULL AND t.personal_data_erased_at IS NULL)`, [JSON.stringify(keys.map((k) => JSON.parse(k) as unknown))])
  for (const row of rows) await storeErased(row, fieldsOf, client)
}

async function writeTicketEvents (client: pg.PoolClient, events: StreamEvent[]): Promise<void> {
  const rows = events.map((e) => {
    // An event stored before fingerprints left the stream still carries its own: not kept.
    const { record, acceptedAt, fp: _fingerprint, input, ...details } = e.fields
    return {
      event_id: `${e.group}:${e.id}`,
      client_id: e.clientId,
      ticket_id: e.ticketId,
      accepted_at: e.type === TicketEventType.ACCEPTED ? iso(e.at) : acceptedAt ? iso(Number(acceptedAt)) : null,
      type: e.type,
      at: iso(e.at),
      details,
      // The record is kept once, on the ticket row (where erasure finds it), not in the event.
      record: record === undefined ? null : JSON.parse(record) as unknown,
      // A failed ticket's input (attachFailedInputs), kept on the ticket row too, never in the event.
      input: input === undefined ? null : JSON.parse(input) as unknown
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
    RETURNING event_id`, [JSON.stringify(rows.map(({ record, input, ...row }) => row))])
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
  const records = rows.filter((r) => r.record !== null && fresh.includes(r.event_id)).map((r) => ({ event_id: r.event_id, record: r.record, input: r.input }))
  if (records.length === 0) return
  // A later record replaces an earlier one (a PRODUCT_FAILED an operator retried); its personal
  // fields are new, so the erasure sweep looks at it again. The input is kept only while the outcome
  // is PRODUCT_FAILED (what a redrive sends again); a failure whose job was gone keeps the one before.
  await client.query(`
    INSERT INTO tickets (client_id, ticket_id, accepted_at, code, record, finished_at, attempts, input)
    SELECT DISTINCT ON (e.client_id, e.ticket_id, e.accepted_at)
      e.client_id, e.ticket_id, e.accepted_at, e.details->>'code', r.record, e.at, COALESCE((e.details->>'tries')::int, 1),
      CASE WHEN e.details->>'code' = 'PRODUCT_FAILED' THEN r.input END
    FROM jsonb_to_recordset($1::jsonb) AS r(event_id text, record jsonb, input jsonb)
    JOIN ticket_events e ON e.event_id = r.event_id
    ORDER BY e.client_id, e.ticket_id, e.accepted_at, e.at DESC
    ON CONFLICT (client_id, ticket_id, accepted_at) DO UPDATE
      SET code = EXCLUDED.code, record = EXCLUDED.record, finished_at = EXCLUDED.finished_at,
          attempts = GREATEST(tickets.attempts, EXCLUDED.attempts), personal_data_erased_at = NULL,
          input = CASE WHEN EXCLUDED.code = 'PRODUCT_FAILED' THEN COALESCE(EXCLUDED.input, tickets.input) END
      WHERE tickets.finished_at IS NULL OR tickets.finished_at <= EXCLUDED.finished_at`, [JSON.stringify(records)])
}

async function writeAuditEvents (client: pg.PoolClient, events: StreamEvent[]): Promise<void> {
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
