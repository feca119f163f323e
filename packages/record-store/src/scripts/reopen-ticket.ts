import { codeReply, redisScript } from '@request-out/redis-connection'
import { TicketField as F } from '../ticket-fields.js'
import { ERASED_FINGERPRINT } from '../ticket-fingerprint.js'

/**
 * Reopens a ticket that failed for lack of an answer, for redrive `redrive`: its record goes (GET
 * answers IN_PROCESS until the new one) and a `redriven` event is appended. Only the acceptance
 * selected (`acceptedAt`), only a PRODUCT_FAILED record, never an erased ticket; a ticket this
 * redrive reopened already (it stopped before sending it back) is `mine`, one another redrive
 * reopened is `busy`. A ticket Redis forgot is made again as that acceptance left it (its
 * `fingerprint`, from the input the history kept; `product`; `acceptedAt`), unless no fingerprint
 * is given.
 *
 * KEYS: ticket (hash), events (its group's stream).
 * ARGV: redrive (id), acceptedAt, failedCode, clientId, ticketId, at (epoch ms), fingerprint ('' none), product, ttlSeconds.
 * Reply: 0 gone (Redis no longer holds it, no fingerprint), 1 newer (accepted again since), 2 final (its
 *   record is no failure for lack of an answer), 3 busy, 4 mine, 5 reopened, 6 recreated, 7 erased.
 */
export const reopenTicketScript = redisScript({
  name: 'roReopenTicket',
  keys: ['ticket', 'events'],
  args: ['redrive', 'acceptedAt', 'failedCode', 'clientId', 'ticketId', 'at', 'fingerprint', 'product', 'ttlSeconds'],
  lua: `
local v = redis.call('HMGET', KEYS[1], '${F.acceptedAt}', '${F.code}', '${F.redrive}', '${F.fingerprint}')
local reply = 5
if not v[1] then
  if ARGV[7] == '' then return 0 end
  redis.call('HSET', KEYS[1], '${F.fingerprint}', ARGV[7], '${F.product}', ARGV[8], '${F.acceptedAt}', ARGV[2])
  redis.call('EXPIRE', KEYS[1], ARGV[9])
  reply = 6
else
  if v[1] ~= ARGV[2] then return 1 end
  if v[4] == '${ERASED_FINGERPRINT}' then return 7 end
  if not v[2] then
    if v[3] == ARGV[1] then return 4 end
    if v[3] then return 3 end
    return 2
  end
  if v[2] ~= ARGV[3] then return 2 end
  redis.call('HDEL', KEYS[1], '${F.record}', '${F.code}', '${F.tryId}')
end
redis.call('HSET', KEYS[1], '${F.redrive}', ARGV[1])
redis.call('XADD', KEYS[2], '*', 'type', 'redriven', 'clientId', ARGV[4], 'ticketId', ARGV[5], 'at', ARGV[6],
  'by', 'redrive:' .. ARGV[1], 'acceptedAt', ARGV[2], 'product', redis.call('HGET', KEYS[1], '${F.product}') or '')
return reply
`,
  reply: codeReply(['gone', 'newer', 'final', 'busy', 'mine', 'reopened', 'recreated', 'erased'] as const)
})
