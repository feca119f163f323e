import type { ResyncEvent, TicketStreamEvent, TicketStreamEventType } from '@request-out/contracts'
import { TicketEventType, eventId, type StreamEvent } from '@request-out/record-store'

const CLIENT_TYPES: ReadonlySet<string> = new Set<TicketStreamEventType>(['accepted', 'try-failed', 'record', 'redriven', 'cancel-requested'])

/** Events a client may see: its tickets' changes, never operators' audit entries. */
export function isClientEvent (event: StreamEvent): boolean {
  return CLIENT_TYPES.has(event.type)
}

/** Which acceptance of its TicketId an event belongs to (epoch ms): a TicketId may be accepted again once its ticket expired. */
export function acceptanceOf (event: StreamEvent): number | undefined {
  if (event.type === TicketEventType.ACCEPTED) return event.at
  const at = event.fields.acceptedAt
  return at === undefined || at === '' ? undefined : Number(at)
}

/** What a stream sends of an event: its id and kind, and nothing personal (no record, no fingerprint). */
export function streamEventData (event: StreamEvent, product: string): TicketStreamEvent {
  const data: TicketStreamEvent = {
    Id: eventId(event.group, event.id),
    Type: event.type as TicketStreamEventType,
    TicketId: event.ticketId,
    Product: product,
    At: new Date(event.at).toISOString()
  }
  const attempt = event.type === TicketEventType.TRY_FAILED ? event.fields.attempt : event.type === TicketEventType.RECORD ? event.fields.tries : undefined
  if (attempt !== undefined && attempt !== '') data.Attempt = Number(attempt)
  if (event.type === TicketEventType.RECORD && event.fields.code !== undefined) data.Code = event.fields.code
  return data
}

/** One SSE frame: `event:` is the type (also in data.Type: a browser's onmessage does not fire for named events). */
export function frame (id: string, type: string, data: TicketStreamEvent | ResyncEvent): string {
  return `id: ${id}\nevent: ${type}\ndata: ${JSON.stringify(data)}\n\n`
}

/** The one frame a stream sends when it cannot resume: read the ticket with GET. */
export function resyncFrame (message: string, ticketId?: string): string {
  const data: ResyncEvent = { Type: 'resync', Message: message, ...(ticketId === undefined ? {} : { TicketId: ticketId }) }
  return `event: resync\ndata: ${JSON.stringify(data)}\n\n`
}
