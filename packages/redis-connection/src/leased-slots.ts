import type { RedisClient } from './connections.js'
import { codeReply, redisScript } from './scripts.js'

/**
 * A counting semaphore in one sorted set: members are the holders, scored by when their lease
 * ends, so a holder that dies frees its slot by itself.
 *
 * KEYS: slots (the sorted set).
 * ARGV: now (ms), leaseEnd (ms), member, cap, keyTtlMs.
 * Reply: 0 full, 1 taken (or held already, lease renewed).
 */
const acquireLeasedSlotScript = redisScript({
  name: 'roAcquireLeasedSlot',
  keys: ['slots'],
  args: ['now', 'leaseEnd', 'member', 'cap', 'keyTtlMs'],
  lua: `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZSCORE', KEYS[1], ARGV[3]) or redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[4]) then
  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
  redis.call('PEXPIRE', KEYS[1], ARGV[5])
  return 1
end
return 0
`,
  reply: codeReply(['full', 'taken'] as const)
})

/** Defines the slot script on a connection: before `acquireLeasedSlot` runs on it. */
export function defineLeasedSlotCommands (redis: RedisClient): void {
  acquireLeasedSlotScript.define(redis)
}

/**
 * Takes one of `cap` slots under `key` for `member` (again, if it holds one), for `leaseMs`.
 * True when taken. One key per call: valid on Redis Cluster.
 */
export async function acquireLeasedSlot (redis: RedisClient, key: string, member: string, cap: number, leaseMs: number): Promise<boolean> {
  const now = Date.now()
  return await acquireLeasedSlotScript.run(redis, { slots: key }, { now, leaseEnd: now + leaseMs, member, cap, keyTtlMs: leaseMs * 2 }) === 'taken'
}

export async function releaseLeasedSlot (redis: RedisClient, key: string, member: string): Promise<void> {
  await redis.zrem(key, member)
}
