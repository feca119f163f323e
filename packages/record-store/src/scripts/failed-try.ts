import { redisScript } from '@request-out/redis-connection'
import { TicketField as F } from '../ticket-fields.js'

/**
 * Appends `try-failed` for a try that will be retried, with the acceptance time that names which
 * acceptance of the TicketId it belongs to (a TicketId may be accepted again once its ticket has
 * expired): history keys tickets by client, TicketId and it.
 *
 * KEYS: ticket (hash), events (its group's stream).
 * ARGV: clientId, ticketId, at (epoch ms), attempt, error (scrubbed).
 * Reply: 1.
 */
export const failedTryScript = redisScript({
  name: 'roFailedTry',
  keys: ['ticket', 'events'],
  args: ['clientId', 'ticketId', 'at', 'attempt', 'error'],
  lua: `
local acceptedAt = redis.call('HGET', KEYS[1], '${F.acceptedAt}') or ''
redis.call('XADD', KEYS[2], '*', 'type', 'try-failed', 'clientId', ARGV[1], 'ticketId', ARGV[2], 'at', ARGV[3],
  'attempt', ARGV[4], 'error', ARGV[5], 'acceptedAt', acceptedAt)
return 1
`,
  reply: () => undefined
})
