import { redisScript } from '@request-out/redis-connection'

/**
 * Pauses a product's queue on every worker for `ms` through BullMQ's limiter key (what
 * `queue.rateLimit()` sets; every product worker has a limiter, so each honours it), unless a
 * longer pause is set already: an upstream's short Retry-After never cuts an open breaker's wait.
 *
 * KEYS: limiter (BullMQ's).
 * ARGV: ms.
 * Reply: 1 set, 0 a longer pause stands.
 */
export const pauseProductScript = redisScript({
  name: 'roPauseProduct',
  keys: ['limiter'],
  args: ['ms'],
  lua: `
if redis.call('PTTL', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], '9007199254740991', 'PX', ARGV[1])
return 1
`,
  reply: (raw): boolean => Number(raw) === 1
})
