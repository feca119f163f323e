import type pg from 'pg'
import { TicketEventType, compareStreamIds, type StreamEvent } from '@request-out/record-store'

export interface StoredTicketEvents {
  product: string
  /** Epoch ms of the acceptance the events belong to (the newest). */
  acceptedAt: number
  /** Its events as the streams held them, in stream order. */
  events: StreamEvent[]
}

/**
 * A ticket's newest acceptance with its events as stream events (group, entry id, fields): what an
 * event stream replays once Redis has trimmed them. Operators' audit entries are not among them.
 */
export async function ticketEvents (pool: pg.Pool, clientId: string, ticketId: string): Promise<StoredTicketEvents | undefined> {
  const { rows: tickets } = await pool.query<{ product: string, accepted_at: Date }>(
    'SELECT product, accepted_at FROM tickets WHERE client_id = $1 AND ticket_id = $2 ORDER BY accepted_at DESC LIMIT 1', [clientId, ticketId])
  const ticket = tickets[0]
  if (ticket === undefined) return undefined
  const { rows } = await pool.query<{ event_id: string, type: string, at: Date, details: Record<string, unknown> }>(
    'SELECT event_id, type, at, details FROM ticket_events WHERE client_id = $1 AND ticket_id = $2 AND accepted_at = $3',
    [clientId, ticketId, ticket.accepted_at])
  const events = rows.map((row): StreamEvent => {
    const at = row.event_id.indexOf(':')
    const fields = Object.fromEntries(Object.entries(row.details).map(([k, v]) => [k, String(v)]))
    return {
      group: Number(row.event_id.slice(0, at)),
      id: row.event_id.slice(at + 1),
      type: row.type as TicketEventType,
      clientId,
      ticketId,
      at: row.at.getTime(),
      fields: { ...fields, product: ticket.product }
    }
  }).filter((e) => e.type !== TicketEventType.AUDIT).sort((a, b) => compareStreamIds(a.id, b.id))
  return { product: ticket.product, acceptedAt: ticket.accepted_at.getTime(), events }
}
