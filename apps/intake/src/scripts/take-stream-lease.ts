import { codeReply, redisScript } from '@request-out/redis-connection'

/**
 * Takes one of a client's event-stream slots over every intake, unless all are held: leases past
 * their end (a dead intake's) are dropped first, so they free their slots by themselves.
 *
 * KEYS: streams (the client's sorted set of leases).
 * ARGV: member (`<intake>:<stream>`), now (ms), until (ms), max.
 * Reply: 0 full, 1 taken.
 */
export const takeStreamLeaseScript = redisScript({
  name: 'roTakeStreamLease',
  keys: ['streams'],
  args: ['member', 'now', 'until', 'max'],
  lua: `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
redis.call('PEXPIREAT', KEYS[1], ARGV[3])
return 1
`,
  reply: codeReply(['full', 'taken'] as const)
})
