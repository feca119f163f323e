import { codeReply, redisScript } from '@request-out/redis-connection'
import { TicketField as F } from '../ticket-fields.js'

/**
 * Appends `try-failed` for a try that failed (the last one too) or was lost with its worker, with
 * the acceptance time that names which acceptance of the TicketId it belongs to (a TicketId may be
 * accepted again once its ticket has expired): history keys tickets by client, TicketId and it. A
 * lost try is appended once per stall of the job (`stalls`, the job's stall count): a retry after
 * it does not append it again.
 *
 * KEYS: ticket (hash), events (its group's stream).
 * ARGV: clientId, ticketId, at (epoch ms), attempt, error (scrubbed), outcome (failed | lost),
 *   startedAt ('' unknown), durationMs ('' unknown), worker, stalls (lost only; '' otherwise).
 * Reply: 0 the lost try was appended already, 1 appended.
 */
export const failedTryScript = redisScript({
  name: 'roFailedTry',
  keys: ['ticket', 'events'],
  args: ['clientId', 'ticketId', 'at', 'attempt', 'error', 'outcome', 'startedAt', 'durationMs', 'worker', 'stalls'],
  lua: `
if ARGV[10] ~= '' then
  if tonumber(redis.call('HGET', KEYS[1], '${F.lostTries}') or '0') >= tonumber(ARGV[10]) then return 0 end
  if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], '${F.lostTries}', ARGV[10]) end
end
local t = redis.call('HMGET', KEYS[1], '${F.acceptedAt}', '${F.product}')
local event = {'type', 'try-failed', 'clientId', ARGV[1], 'ticketId', ARGV[2], 'at', ARGV[3],
  'attempt', ARGV[4], 'outcome', ARGV[6], 'error', ARGV[5], 'worker', ARGV[9], 'acceptedAt', t[1] or '', 'product', t[2] or ''}
if ARGV[7] ~= '' then event[#event + 1] = 'startedAt'; event[#event + 1] = ARGV[7] end
if ARGV[8] ~= '' then event[#event + 1] = 'durationMs'; event[#event + 1] = ARGV[8] end
redis.call('XADD', KEYS[2], '*', unpack(event))
return 1
`,
  reply: codeReply(['seen', 'appended'] as const)
})
