import { redisScript } from '@request-out/redis-connection'

/** `run`: closed, go; `probe`: this try is the breaker's one probe; `wait`: back to the queue, no attempt spent. */
export type TryDecision = 'run' | 'probe' | 'wait'

/** The decision, and whether taking the probe made the breaker half-open. */
const REPLIES: ReadonlyArray<{ decision: TryDecision, halfOpened: boolean }> = [
  { decision: 'run', halfOpened: false },
  { decision: 'probe', halfOpened: false },
  { decision: 'wait', halfOpened: false },
  { decision: 'probe', halfOpened: true }
]

/**
 * Asked before a try by a worker that saw the breaker not closed. Open before its probe time: the
 * queue's limiter is stretched to the probe time (a back-pressure pause may have cut it short) and
 * the try waits. From the probe time on, the first try to ask holds the probe lease (the breaker
 * is half-open from then on); every other waits, with the limiter set to `waitMs` so the workers
 * ask again soon after the probe closes the breaker.
 *
 * KEYS: breaker (hash), probe (lease), limiter (BullMQ's).
 * ARGV: now, member (the job id), leaseMs, waitMs.
 * Reply: 0 run, 1 probe, 2 wait, 3 probe (and the breaker is half-open from now).
 */
export const takeTryScript = redisScript({
  name: 'roBreakerTakeTry',
  keys: ['breaker', 'probe', 'limiter'],
  args: ['now', 'member', 'leaseMs', 'waitMs'],
  lua: `
local state = redis.call('HGET', KEYS[1], 'state') or 'closed'
if state == 'closed' then return 0 end
local now = tonumber(ARGV[1])
local probeAt = tonumber(redis.call('HGET', KEYS[1], 'probeAt') or '0')
local function wait(ms)
  if ms > 0 and redis.call('PTTL', KEYS[3]) < ms then redis.call('SET', KEYS[3], '9007199254740991', 'PX', ms) end
  return 2
end
if state == 'open' and now < probeAt then return wait(probeAt - now) end
local holder = redis.call('GET', KEYS[2])
if holder == ARGV[2] or (not holder and redis.call('SET', KEYS[2], ARGV[2], 'NX', 'PX', ARGV[3])) then
  redis.call('PEXPIRE', KEYS[2], ARGV[3])
  if state == 'open' then
    redis.call('HSET', KEYS[1], 'state', 'half-open', 'since', now)
    redis.call('HINCRBY', KEYS[1], 'seq', 1)
    return 3
  end
  return 1
end
return wait(tonumber(ARGV[4]))
`,
  reply: (raw) => {
    const reply = REPLIES[Number(raw)]
    if (reply === undefined) throw new Error(`the breaker's try script answered ${String(raw)}`)
    return reply
  }
})
