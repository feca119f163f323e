import { redisScript } from '@request-out/redis-connection'

/**
 * Replaces fields of a ticket's webhook events (an erasure), only while they are still kept: an
 * expired ticket's events are not revived.
 *
 * KEYS: events (the ticket's hash of events).
 * ARGV: fields (JSON: [field, value, field, value, …]).
 * Reply: true when the events were there.
 */
export const rewriteEventsScript = redisScript({
  name: 'roRewriteWebhookEvents',
  keys: ['events'],
  args: ['fields'],
  lua: `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], unpack(cjson.decode(ARGV[1])))
return 1
`,
  reply: (raw) => raw === 1
})
