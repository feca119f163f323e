import type { RedisClient } from './connections.js'

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

// Scripts are defined when the connection is set up, never on first use: an ioredis pipeline
// knows only the scripts defined before it was created, and a call of a newer one inside an
// auto-pipeline breaks the whole pipeline ('results[i] is not iterable', uncaught).
export function defineLeasedSlotCommands (redis: RedisClient): void {
  if (!('roAcquireLeasedSlot' in redis)) redis.defineCommand('roAcquireLeasedSlot', { numberOfKeys: 1, lua: ACQUIRE })
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
