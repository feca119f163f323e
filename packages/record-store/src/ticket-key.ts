import { createHash } from 'node:crypto'

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

/** Stable JSON: object keys sorted at every depth, so equal content gives equal text. */
function canonical (value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`
  if (value !== null && typeof value === 'object') {
    const entries = Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`)
    return `{${entries.join(',')}}`
  }
  return JSON.stringify(value) ?? 'null'
}

/** What makes a re-POST "the same ticket": the product and the input, not the TicketId alone. */
export function ticketFingerprint (ticket: {
  Subject: string
  SubjectType: string
  SubjectIdentifier: string
  Data?: Record<string, unknown> | undefined
}): string {
  return createHash('sha256')
    .update(canonical([ticket.Subject, ticket.SubjectType, ticket.SubjectIdentifier, ticket.Data ?? null]))
    .digest('base64url')
}
