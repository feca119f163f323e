/**
 * One id for a client's ticket, used as the Redis key suffix and the BullMQ job id.
 * base64url never contains "." and TicketIds never contain ":", so the id is injective over
 * (clientId, ticketId), has no ":" (BullMQ refuses it) and is never all digits (BullMQ reserves those).
 */
export function ticketKey (clientId: string, ticketId: string): string {
  return `${Buffer.from(clientId, 'utf8').toString('base64url')}.${ticketId}`
}

export function parseTicketKey (key: string): { clientId: string, ticketId: string } | undefined {
  const dot = key.indexOf('.')
  if (dot < 0) return undefined
  return {
    clientId: Buffer.from(key.slice(0, dot), 'base64url').toString('utf8'),
    ticketId: key.slice(dot + 1)
  }
}

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
