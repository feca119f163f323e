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
