import { redisScript } from '@request-out/redis-connection'

/**
 * Counts one delivery outcome in an endpoint's hourly stats, kept two hours.
 *
 * KEYS: stats (the endpoint's hash for the hour).
 * ARGV: outcome (`ok` / `failed`), ttlSeconds.
 * Reply: 1.
 */
export const countOutcomeScript = redisScript({
  name: 'roWebhookCountOutcome',
  keys: ['stats'],
  args: ['outcome', 'ttlSeconds'],
  lua: `
redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1
`,
  reply: () => undefined
})
