import { redisScript } from '@request-out/redis-connection'
import { TicketField as F } from '../ticket-fields.js'

export type ClaimReply =
  | { outcome: 'claimed' }
  | { outcome: 'existing', fingerprint: string, record: string, cancelRequested: boolean, acceptedAt: number }

/**
 * Registers a new ticket and appends its `accepted` event, or tells what is there already under
 * its id. A ticket's hash and its group's stream share a slot (RedisKeys), so this is valid on
 * Redis Cluster; the event is appended by the change that makes it, so no consumer misses one.
 *
 * KEYS: ticket (hash), events (its group's stream).
 * ARGV: fingerprint, product, at (epoch ms), ttlSeconds, clientId, ticketId, requestId, traceId ('' untraced).
 * Reply: {1} claimed; {0, fingerprint, record ('' none), cancelRequested 0|1, at (the stored acceptance time)} existing.
 */
export const claimTicketScript = redisScript({
  name: 'roClaimTicket',
  keys: ['ticket', 'events'],
  args: ['fingerprint', 'product', 'at', 'ttlSeconds', 'clientId', 'ticketId', 'requestId', 'traceId'],
  lua: `
if redis.call('EXISTS', KEYS[1]) == 1 then
  local v = redis.call('HMGET', KEYS[1], '${F.fingerprint}', '${F.record}', '${F.cancel}', '${F.acceptedAt}')
  return {0, v[1] or '', v[2] or '', v[3] and 1 or 0, v[4] or ''}
end
redis.call('HSET', KEYS[1], '${F.fingerprint}', ARGV[1], '${F.product}', ARGV[2], '${F.acceptedAt}', ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[4])
local event = {'type', 'accepted', 'clientId', ARGV[5], 'ticketId', ARGV[6], 'at', ARGV[3],
  'product', ARGV[2], 'requestId', ARGV[7]}
if ARGV[8] ~= '' then event[#event + 1] = 'traceId'; event[#event + 1] = ARGV[8] end
redis.call('XADD', KEYS[2], '*', unpack(event))
return {1}
`,
  reply: (raw): ClaimReply => {
    const [created, fingerprint, record, cancel, at] = raw as [number, string?, string?, number?, string?]
    if (created === 1) return { outcome: 'claimed' }
    return { outcome: 'existing', fingerprint: fingerprint ?? '', record: record ?? '', cancelRequested: cancel === 1, acceptedAt: Number(at) }
  }
})
