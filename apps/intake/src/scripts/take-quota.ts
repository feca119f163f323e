import { redisScript } from '@request-out/redis-connection'

/**
 * Counts one ticket against a client's quota window, shared by every intake. A ticket over the
 * quota is not counted (the counter is given back), so a refused burst does not push the reset
 * further away.
 *
 * KEYS: counter (the window's).
 * ARGV: limit, untilEndMs (the counter outlives its window a little).
 * Reply: {allowed 1 | 0, used}.
 */
export const takeQuotaScript = redisScript({
  name: 'roTakeQuota',
  keys: ['counter'],
  args: ['limit', 'untilEndMs'],
  lua: `
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) + 1000) end
if n > tonumber(ARGV[1]) then
  redis.call('DECR', KEYS[1])
  return {0, n - 1}
end
return {1, n}
`,
  reply: (raw) => {
    const [allowed, used] = raw as [number, number]
    return { allowed: allowed === 1, used }
  }
})
