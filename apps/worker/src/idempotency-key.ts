import { createHash } from 'node:crypto'

/** The header every try of a ticket sends to an `http` product's upstream. */
export const IDEMPOTENCY_KEY_HEADER = 'idempotency-key'

/**
 * The ticket's Idempotency-Key (draft-ietf-httpapi-idempotency-key-header), as the header's value:
 * an sf-string, `"ro1-<43 base64url characters>"`. Made of the client, the TicketId and the
 * acceptance time the claim stored, so every try of one acceptance (retries, a take-over after a
 * worker died, an operator's retry, a redrive) sends the same key, and another acceptance of the
 * same TicketId (after it expired) or another client's ticket sends another. A hash: no TicketId or
 * client name reaches the upstream through it, nor anything a ticket's data holds.
 */
export function idempotencyKey (clientId: string, ticketId: string, acceptedAt: number): string {
  const digest = createHash('sha256').update(`${clientId}\n${ticketId}\n${acceptedAt}`).digest('base64url')
  return `"ro1-${digest}"`
}
