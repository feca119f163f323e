import type { Queue } from 'bullmq'
import type { RedisClient } from '@request-out/redis-connection'

// A client's running tickets of one product, over every worker: a sorted set of job ids scored by
// when their slot lapses (a worker that dies without giving its slot back frees it then).
// KEYS[1] the set; ARGV: now, lapse time, job id, cap, key lifetime.
const ACQUIRE = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZSCORE', KEYS[1], ARGV[3]) then
  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
  return 1
end
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[4]) then
  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
  redis.call('PEXPIRE', KEYS[1], ARGV[5])
  return 1
end
return 0
`

interface SlotCommands {
  roAcquireClientSlot: (key: string, now: string, lapse: string, jobId: string, cap: string, ttl: string) => Promise<number>
}

/**
 * `ClientConcurrency` of a product: at most `cap` tickets of one client run at once, whichever
 * workers run them. A ticket over the cap goes back to wait (delayed briefly, keeping its priority),
 * so it does not hold a worker slot that another client's ticket could use.
 */
export class ClientSlots {
  readonly #redis: RedisClient & SlotCommands
  readonly #queue: Queue
  readonly #cap: number
  readonly #leaseMs: number

  constructor (redis: RedisClient, queue: Queue, cap: number, leaseMs: number) {
    if (!('roAcquireClientSlot' in redis)) redis.defineCommand('roAcquireClientSlot', { numberOfKeys: 1, lua: ACQUIRE })
    this.#redis = redis as RedisClient & SlotCommands
    this.#queue = queue
    this.#cap = cap
    this.#leaseMs = leaseMs
  }

  #key (clientId: string): string {
    return this.#queue.toKey(`ro-running:${Buffer.from(clientId).toString('base64url')}`)
  }

  /** True when the job may run now (its slot is held until `release` or the lease lapses). */
  async acquire (clientId: string, jobId: string): Promise<boolean> {
    const now = Date.now()
    return await this.#redis.roAcquireClientSlot(this.#key(clientId), String(now), String(now + this.#leaseMs), jobId,
      String(this.#cap), String(this.#leaseMs * 2)) === 1
  }

  async release (clientId: string, jobId: string): Promise<void> {
    await this.#redis.zrem(this.#key(clientId), jobId)
  }
}
