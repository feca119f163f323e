/**
 * The Lua function both transition scripts open a breaker with: state `open` until `probeAt`
 * (the interval stretched by up to a fifth, at random, so refused clients and probing workers do
 * not all come back at once), the queue's BullMQ limiter set that long (no worker takes a job of
 * the product; a longer pause already set is kept), and the transition queued for its audit entry
 * in the same script, so a worker that dies right after cannot lose it.
 *
 * openBreaker(breaker, limiter, transitions, calls, now, openMs, jitter (0..1), from, reason) → probeAt
 */
export const OPEN_BREAKER_LUA = `
local function openBreaker(breaker, limiter, transitions, calls, now, openMs, jitter, from, reason)
  local probeAt = now + math.floor(openMs * (1 + 0.2 * jitter))
  local seq = redis.call('HINCRBY', breaker, 'seq', 1)
  redis.call('HSET', breaker, 'state', 'open', 'since', now, 'probeAt', probeAt, 'openMs', openMs, 'run', 0, 'reason', reason)
  redis.call('DEL', calls)
  if redis.call('PTTL', limiter) < probeAt - now then
    redis.call('SET', limiter, '9007199254740991', 'PX', probeAt - now)
  end
  redis.call('RPUSH', transitions, cjson.encode({seq = seq, to = 'open', from = from, at = now, openMs = openMs, probeAt = probeAt, reason = reason}))
  redis.call('LTRIM', transitions, -1000, -1)
  return probeAt
end
`
