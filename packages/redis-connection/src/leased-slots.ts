import type { RedisClient } from './connections.js'
import { defineScript } from './scripts.js'

// A counting semaphore in one sorted set: members are the holders, scored by when their lease
// ends, so a holder that dies frees its slot by itself. KEYS[1] the set; ARGV: now, lease end,
// member, cap, key lifetime (ms).
const ACQUIRE = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZSCORE', KEYS[1], ARGV[3]) or redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[4]) then
  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
  redis.call('PEXPIRE', KEYS[1], ARGV[5])
  return 1
end
return 0
`

/** Defines the slot script on a connection (`defineScript`): before `acquireLeasedSlot` runs on it. */
export function defineLeasedSlotCommands (redis: RedisClient): void {
  defineScript(redis, 'roAcquireLeasedSlot', 1, ACQUIRE)
}

interface SlotCommands {
  roAcquireLeasedSlot: (key: string, now: string, until: string, member: string, cap: string, ttl: string) => Promise<number>
}

/**
 * Takes one of `cap` slots under `key` for `member` (again, if it holds one), for `leaseMs`.
 * True when taken. One key per call: valid on Redis Cluster.
 */
export async function acquireLeasedSlot (redis: RedisClient, key: string, member: string, cap: number, leaseMs: number): Promise<boolean> {
  const now = Date.now()
  return await (redis as RedisClient & SlotCommands).roAcquireLeasedSlot(key, String(now), String(now + leaseMs), member, String(cap), String(leaseMs * 2)) === 1
}

export async function releaseLeasedSlot (redis: RedisClient, key: string, member: string): Promise<void> {
  await redis.zrem(key, member)
}
