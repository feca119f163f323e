import { codeReply, redisScript } from '@request-out/redis-connection'
import { TicketField as F } from '../ticket-fields.js'

/**
 * Reopens a ticket that failed for lack of an answer, for redrive `redrive`: its record goes (GET
 * answers IN_PROCESS until the new one) and a `redriven` event is appended. Only the acceptance
 * selected (`acceptedAt`), only a PRODUCT_FAILED record; a ticket this redrive reopened already
 * (it stopped before sending it back) is `mine`, one another redrive reopened is `busy`.
 *
 * KEYS: ticket (hash), events (its group's stream).
 * ARGV: redrive (id), acceptedAt, failedCode, clientId, ticketId, at (epoch ms).
 * Reply: 0 gone (Redis no longer holds it), 1 newer (accepted again since), 2 final (its record is no
 *   failure for lack of an answer), 3 busy, 4 mine, 5 reopened.
 */
export const reopenTicketScript = redisScript({
  name: 'roReopenTicket',
  keys: ['ticket', 'events'],
  args: ['redrive', 'acceptedAt', 'failedCode', 'clientId', 'ticketId', 'at'],
  lua: `
local v = redis.call('HMGET', KEYS[1], '${F.acceptedAt}', '${F.code}', '${F.redrive}')
if not v[1] then return 0 end
if v[1] ~= ARGV[2] then return 1 end
if not v[2] then
  if v[3] == ARGV[1] then return 4 end
  if v[3] then return 3 end
  return 2
end
if v[2] ~= ARGV[3] then return 2 end
redis.call('HDEL', KEYS[1], '${F.record}', '${F.code}', '${F.tryId}')
redis.call('HSET', KEYS[1], '${F.redrive}', ARGV[1])
redis.call('XADD', KEYS[2], '*', 'type', 'redriven', 'clientId', ARGV[4], 'ticketId', ARGV[5], 'at', ARGV[6],
  'by', 'redrive:' .. ARGV[1], 'acceptedAt', ARGV[2])
return 5
`,
  reply: codeReply(['gone', 'newer', 'final', 'busy', 'mine', 'reopened'] as const)
})
