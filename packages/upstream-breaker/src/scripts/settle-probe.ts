import { codeReply, redisScript } from '@request-out/redis-connection'
import { OPEN_BREAKER_LUA } from './open-breaker.js'

/** What a probe try found: the upstream answered (a result or a rejection), failed, or nothing (paused, cancelled, stopped). */
export type ProbeOutcome = 'ok' | 'failed' | 'none'

/**
 * Ends the probe of the lease holder `member`. `ok` closes the breaker and lifts the queue's
 * limiter (every worker resumes), `failed` opens it again for twice the interval (up to
 * maxOpenMs), `none` frees the lease for another probe. Both transitions are queued for their
 * audit entry in the same script. A holder whose lease lapsed (another try probes now) changes
 * nothing.
 *
 * KEYS: breaker (hash), probe (lease), limiter (BullMQ's), transitions (list), calls (hash).
 * ARGV: now, member, outcome (ok | failed | none), maxOpenMs, jitter (0..1), reason.
 * Reply: 0 stale (not the holder), 1 released, 2 closed, 3 opened.
 */
export const settleProbeScript = redisScript({
  name: 'roBreakerSettleProbe',
  keys: ['breaker', 'probe', 'limiter', 'transitions', 'calls'],
  args: ['now', 'member', 'outcome', 'maxOpenMs', 'jitter', 'reason'],
  lua: `${OPEN_BREAKER_LUA}
if redis.call('GET', KEYS[2]) ~= ARGV[2] then return 0 end
redis.call('DEL', KEYS[2])
local outcome = ARGV[3]
if outcome == 'none' then return 1 end
local now = tonumber(ARGV[1])
if outcome == 'ok' then
  local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
  redis.call('HSET', KEYS[1], 'state', 'closed', 'since', now, 'run', 0)
  redis.call('HDEL', KEYS[1], 'probeAt')
  redis.call('DEL', KEYS[3], KEYS[5])
  redis.call('RPUSH', KEYS[4], cjson.encode({seq = seq, to = 'close', from = 'half-open', at = now, reason = 'the probe try succeeded'}))
  redis.call('LTRIM', KEYS[4], -1000, -1)
  return 2
end
redis.call('HSET', KEYS[1], 'lastFailure', now)
local openMs = math.min(tonumber(redis.call('HGET', KEYS[1], 'openMs') or ARGV[4]) * 2, tonumber(ARGV[4]))
openBreaker(KEYS[1], KEYS[3], KEYS[4], KEYS[5], now, openMs, tonumber(ARGV[5]), 'half-open', ARGV[6])
return 3
`,
  reply: codeReply(['stale', 'released', 'closed', 'opened'] as const)
})
