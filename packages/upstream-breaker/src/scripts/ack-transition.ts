import { redisScript } from '@request-out/redis-connection'

/**
 * Removes a breaker transition from the head of its list once its audit entry is written, if it
 * is still the head (another intake may have audited and removed it meanwhile).
 *
 * KEYS: transitions (list).
 * ARGV: entry (the JSON as read).
 * Reply: 1 removed, 0 not the head any more.
 */
export const ackTransitionScript = redisScript({
  name: 'roBreakerAckTransition',
  keys: ['transitions'],
  args: ['entry'],
  lua: `
if redis.call('LINDEX', KEYS[1], 0) ~= ARGV[1] then return 0 end
redis.call('LPOP', KEYS[1])
return 1
`,
  reply: (raw): boolean => Number(raw) === 1
})
