import { ticketKey } from './ticket-key.js'

/**
 * How many ticket groups there are. Fixed for the life of a deployment: a ticket's group is
 * derived from it, so changing the number moves every stored ticket out of reach.
 */
export const TICKET_GROUPS = 64

/**
 * A ticket's group, 0 … TICKET_GROUPS - 1: FNV-1a of its id (client and TicketId). Spreads tickets
 * evenly, and every process computes the same group without asking Redis.
 */
export function ticketGroup (clientId: string, ticketId: string): number {
  let hash = 0x811c9dc5
  const id = ticketKey(clientId, ticketId)
  for (let i = 0; i < id.length; i++) {
    hash ^= id.charCodeAt(i)
    hash = Math.imul(hash, 0x01000193) >>> 0
  }
  return hash % TICKET_GROUPS
}

/**
 * The hash tag of a group: a ticket's hash and its group's event stream share it, so one script can
 * change the ticket and append the event, on a single Redis and on a Redis Cluster alike.
 */
const groupTag = (prefix: string, group: number): string => `${prefix}:{tg${group}}`

/** The Redis hash of a ticket (fingerprint, product, acceptance time and, once final, its record). */
export function ticketRedisKey (prefix: string, clientId: string, ticketId: string): string {
  return `${groupTag(prefix, ticketGroup(clientId, ticketId))}:ticket:${ticketKey(clientId, ticketId)}`
}

/** Where tickets lived before groups existed; read as a fallback until they expire (RECORD_TTL_SECONDS). */
export function legacyTicketRedisKey (prefix: string, clientId: string, ticketId: string): string {
  return `${prefix}:ticket:${ticketKey(clientId, ticketId)}`
}

/** The append-only stream of every state change of the group's tickets. */
export function ticketEventStream (prefix: string, group: number): string {
  return `${groupTag(prefix, group)}:events`
}

/** Every group's event stream: what a consumer of ticket events reads. */
export function ticketEventStreams (prefix: string): string[] {
  return Array.from({ length: TICKET_GROUPS }, (_, group) => ticketEventStream(prefix, group))
}
