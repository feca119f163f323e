import { redisScript } from '@request-out/redis-connection'

/**
 * Adds an attempt to a ticket's delivery log, newest first, keeping the last `length`, with the
 * log's retention.
 *
 * KEYS: log (the ticket's list of attempts).
 * ARGV: attempt (JSON), length, ttlSeconds.
 * Reply: 1.
 */
export const logAttemptScript = redisScript({
  name: 'roWebhookLogAttempt',
  keys: ['log'],
  args: ['attempt', 'length', 'ttlSeconds'],
  lua: `
redis.call('LPUSH', KEYS[1], ARGV[1])
redis.call('LTRIM', KEYS[1], 0, tonumber(ARGV[2]) - 1)
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
`,
  reply: () => undefined
})
