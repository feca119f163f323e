import { redisScript } from '@request-out/redis-connection'

/**
 * Takes up to `want` tokens from a client's rate-limit window without passing the limit; what is
 * not granted is not counted. One script: one round trip, and atomic.
 *
 * KEYS: counter (the window's).
 * ARGV: want, max, ttlMs.
 * Reply: {got, count} (count: the window's total after this).
 */
export const leaseTokensScript = redisScript({
  name: 'roLeaseTokens',
  keys: ['counter'],
  args: ['want', 'max', 'ttlMs'],
  lua: `
local want = tonumber(ARGV[1])
local count = redis.call('INCRBY', KEYS[1], want)
local got = want
local over = count - tonumber(ARGV[2])
if over > 0 then
  got = math.max(0, want - over)
  count = redis.call('DECRBY', KEYS[1], want - got)
end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {got, count}
`,
  reply: (raw) => {
    const [got, count] = raw as [number, number]
    return { got, count }
  }
})
