import { acquireLeasedSlot, defineLeasedSlotCommands, releaseLeasedSlot, type RedisClient } from '@request-out/redis-connection'
import type { RedisKeys } from '@request-out/redis-keys'

/**
 * `ClientConcurrency` of a product: at most `cap` tickets of one client run at once, whichever
 * workers run them (a leased semaphore per client: a worker that dies frees its slots when their
 * lease ends). A ticket over the cap goes back to wait (delayed briefly, keeping its priority), so
 * it does not hold a worker slot that another client's ticket could use.
 */
export class ClientSlots {
  readonly #redis: RedisClient
  readonly #keys: RedisKeys
  readonly #product: string
  readonly #cap: number
  readonly #leaseMs: number

  constructor (redis: RedisClient, keys: RedisKeys, product: string, cap: number, leaseMs: number) {
    defineLeasedSlotCommands(redis)
    this.#redis = redis
    this.#keys = keys
    this.#product = product
    this.#cap = cap
    this.#leaseMs = leaseMs
  }

  #key (clientId: string): string {
    return this.#keys.clientRunning(this.#product, clientId)
  }

  /** True when the job may run now (its slot is held until `release` or the lease lapses). */
  async acquire (clientId: string, jobId: string): Promise<boolean> {
    return await acquireLeasedSlot(this.#redis, this.#key(clientId), jobId, this.#cap, this.#leaseMs)
  }

  async release (clientId: string, jobId: string): Promise<void> {
    await releaseLeasedSlot(this.#redis, this.#key(clientId), jobId)
  }
}
