import { redisScript } from '@request-out/redis-connection'

/**
 * Keeps one event of a ticket's deliveries and names it the newest, with the events' retention.
 * A script, not MULTI: a delivery's transactions (this, its log line, its outcome count) were a
 * sixth of a busy worker's time.
 *
 * KEYS: events (the ticket's hash of events).
 * ARGV: webhookId, event (JSON), last (the field naming the newest), ttlSeconds.
 * Reply: 1.
 */
export const freezeEventScript = redisScript({
  name: 'roWebhookFreezeEvent',
  keys: ['events'],
  args: ['webhookId', 'event', 'last', 'ttlSeconds'],
  lua: `
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[4])
return 1
`,
  reply: () => undefined
})
