import { redisScript } from '@request-out/redis-connection'

/**
 * Counts one failed login in its three one-minute windows at once (pair, user, address). The login
 * keys share a hash tag (RedisKeys), so the script is valid on a cluster.
 *
 * KEYS: pair, user, address (the window's counters).
 * ARGV: ttlMs.
 * Reply: none.
 */
export const countLoginFailureScript = redisScript({
  name: 'roLoginFailure',
  keys: ['pair', 'user', 'address'],
  args: ['ttlMs'],
  lua: `
for i, key in ipairs(KEYS) do
  local n = redis.call('INCR', key)
  if n == 1 then redis.call('PEXPIRE', key, ARGV[1]) end
end
return 1
`,
  reply: () => undefined
})
