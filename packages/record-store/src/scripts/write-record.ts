import { codeReply, redisScript } from '@request-out/redis-connection'
import { TicketField as F } from '../ticket-fields.js'

/**
 * Stores a ticket's record and appends its `record` event; announces it on the records channel
 * only when a long poll waits on the ticket (`watched`, set by watch-read), so intakes do not each
 * receive every record. A record is final, except one whose code is the retry policy's exhausted
 * code: a later outcome of the same ticket (an operator's retry, a late duplicate delivery)
 * replaces it, and so does that code again from another try (a retry that failed once more
 * appends its record event too). The same try's outcome written twice (the processor, then the
 * failed-job handler) is one write: a try is named by `tryId` (the job's processedOn; '' never
 * replaces). The event carries no record: streams are read by many and cannot be edited, so a
 * record's personal values live only in the hash, where an erasure reaches them (attachRecords).
 *
 * KEYS: ticket (hash), events (its group's stream).
 * ARGV: record (JSON), ttlSeconds, channel, member (the ticket's id), code, clientId, ticketId,
 *   at (epoch ms), startedAt, tries, replaceableCode, traceparent ('' untraced), tryId, worker ('' none).
 * Reply: 0 kept (a final record is there, or this try's was written), 1 written.
 */
export const writeRecordScript = redisScript({
  name: 'roWriteRecord',
  keys: ['ticket', 'events'],
  args: ['record', 'ttlSeconds', 'channel', 'member', 'code', 'clientId', 'ticketId', 'at', 'startedAt', 'tries', 'replaceableCode', 'traceparent', 'tryId', 'worker'],
  lua: `
local v = redis.call('HMGET', KEYS[1], '${F.code}', '${F.watched}', '${F.tryId}')
local current = v[1]
if current and (current ~= ARGV[11] or (ARGV[5] == ARGV[11] and (ARGV[13] == '' or v[3] == ARGV[13]))) then return 0 end
redis.call('HSET', KEYS[1], '${F.record}', ARGV[1], '${F.code}', ARGV[5], '${F.tryId}', ARGV[13])
redis.call('EXPIRE', KEYS[1], ARGV[2])
local t = redis.call('HMGET', KEYS[1], '${F.acceptedAt}', '${F.product}')
local event = {'type', 'record', 'clientId', ARGV[6], 'ticketId', ARGV[7], 'at', ARGV[8],
  'code', ARGV[5], 'startedAt', ARGV[9], 'tries', ARGV[10], 'acceptedAt', t[1] or '', 'product', t[2] or ''}
if ARGV[12] ~= '' then event[#event + 1] = 'traceparent'; event[#event + 1] = ARGV[12] end
if ARGV[14] ~= '' then event[#event + 1] = 'worker'; event[#event + 1] = ARGV[14] end
redis.call('XADD', KEYS[2], '*', unpack(event))
if v[2] then redis.call('PUBLISH', ARGV[3], ARGV[4]) end
return 1
`,
  reply: codeReply(['kept', 'written'] as const)
})
