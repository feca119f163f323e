import { redisScript } from '@request-out/redis-connection'
import { parseBreaker, type BreakerState } from '../breaker-state.js'
import { OPEN_BREAKER_LUA } from './open-breaker.js'

export interface SyncReply {
  breaker: BreakerState
  /** How long the product's workers still wait (back-pressure or an open breaker), in ms; 0 none. */
  pausedMs: number
  /** This call opened the breaker. */
  opened: boolean
}

/**
 * Adds one worker's upstream outcomes since its last call to the product's window, opens the
 * breaker when the window's failure share or the failures in a row reach their limits, and
 * answers the state. Outcomes counted while the breaker is not closed are dropped: tries that
 * started before it opened say nothing new, and only the probe decides a half-open breaker.
 * The window is ten buckets of a tenth of WindowMs each: it slides by tenths.
 *
 * KEYS: breaker (hash), calls (hash of buckets), limiter (BullMQ's), transitions (list).
 * ARGV: now, ok, failed, trailing (the failures after the last success among them), lastFailure (ms, 0 none),
 *   windowMs, minCalls, failureRatio, consecutiveFailures, openMs, maxOpenMs, jitter (0..1).
 * Reply: {state, since, lastFailure, probeAt, reason, limiter PTTL (negative: none), opened 0|1}.
 */
export const syncOutcomesScript = redisScript({
  name: 'roBreakerSync',
  keys: ['breaker', 'calls', 'limiter', 'transitions'],
  args: ['now', 'ok', 'failed', 'trailing', 'lastFailure', 'windowMs', 'minCalls', 'failureRatio', 'consecutiveFailures', 'openMs', 'maxOpenMs', 'jitter'],
  lua: `${OPEN_BREAKER_LUA}
local now = tonumber(ARGV[1])
local ok, failed, trailing = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
if tonumber(ARGV[5]) > 0 then redis.call('HSET', KEYS[1], 'lastFailure', ARGV[5]) end
local state = redis.call('HGET', KEYS[1], 'state') or 'closed'
local opened = 0
if state == 'closed' and ok + failed > 0 then
  local windowMs = tonumber(ARGV[6])
  local bucketMs = math.max(1, math.floor(windowMs / 10))
  local bucket = math.floor(now / bucketMs)
  if ok > 0 then redis.call('HINCRBY', KEYS[2], bucket .. ':ok', ok) end
  if failed > 0 then redis.call('HINCRBY', KEYS[2], bucket .. ':fail', failed) end
  redis.call('PEXPIRE', KEYS[2], windowMs * 2)
  local run = trailing
  if ok == 0 then run = tonumber(redis.call('HGET', KEYS[1], 'run') or '0') + trailing end
  redis.call('HSET', KEYS[1], 'run', run)
  local calls, fails = 0, 0
  local flat = redis.call('HGETALL', KEYS[2])
  for i = 1, #flat, 2 do
    local b, kind = string.match(flat[i], '^(%d+):(%a+)$')
    if tonumber(b) <= bucket - 10 then
      redis.call('HDEL', KEYS[2], flat[i])
    else
      calls = calls + tonumber(flat[i + 1])
      if kind == 'fail' then fails = fails + tonumber(flat[i + 1]) end
    end
  end
  local byRun = run >= tonumber(ARGV[9])
  local byShare = calls >= tonumber(ARGV[7]) and fails >= tonumber(ARGV[8]) * calls
  if byRun or byShare then
    -- Back to the base interval only after it stayed closed for a whole window: a flapping upstream keeps the longer one.
    local closedSince = tonumber(redis.call('HGET', KEYS[1], 'since') or '0')
    local openMs = tonumber(redis.call('HGET', KEYS[1], 'openMs') or '0')
    if openMs == 0 or now - closedSince >= windowMs then openMs = tonumber(ARGV[10]) else openMs = math.min(openMs * 2, tonumber(ARGV[11])) end
    local reason = byRun and (run .. ' failures in a row') or (fails .. ' of ' .. calls .. ' calls failed')
    openBreaker(KEYS[1], KEYS[3], KEYS[4], KEYS[2], now, openMs, tonumber(ARGV[12]), 'closed', reason)
    opened = 1
  end
end
local v = redis.call('HMGET', KEYS[1], 'state', 'since', 'lastFailure', 'probeAt', 'reason')
return {v[1] or '', v[2] or '', v[3] or '', v[4] or '', v[5] or '', redis.call('PTTL', KEYS[3]), opened}
`,
  reply: (raw): SyncReply => {
    const [state, since, lastFailure, probeAt, reason, pttl, opened] = raw as [string, string, string, string, string, number, number]
    return { breaker: parseBreaker([state, since, lastFailure, probeAt, reason]), pausedMs: Math.max(0, pttl), opened: opened === 1 }
  }
})
