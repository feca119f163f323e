import { redisScript } from '@request-out/redis-connection'

/**
 * Gives back a turn taken for a ticket that then needed no job, unless the client took another since.
 *
 * KEYS: lastByClient (hash: each client's last priority).
 * ARGV: clientId, priority (the turn taken).
 * Reply: none.
 */
export const returnFairTurnScript = redisScript({
  name: 'roFairReturn',
  keys: ['lastByClient'],
  args: ['clientId', 'priority'],
  lua: `
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  redis.call('HSET', KEYS[1], ARGV[1], tonumber(ARGV[2]) - 1)
end
return 0
`,
  reply: () => undefined
})
