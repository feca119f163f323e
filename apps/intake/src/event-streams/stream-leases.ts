import { randomUUID } from 'node:crypto'
import type { RedisClient } from '@request-out/redis-connection'
import { redisKeys } from '@request-out/redis-keys'
import { takeStreamLeaseScript } from '../scripts/take-stream-lease.js'

/** A lease lives this long unless renewed; an intake renews every RENEW_MS, so a dead one's lapse within LEASE_MS. */
const LEASE_MS = 30_000
const RENEW_MS = 10_000

/**
 * SSE_MAX_STREAMS_PER_CLIENT over every intake: each open stream holds a lease in its client's
 * sorted set, renewed while it is open and removed when it ends.
 */
export class StreamLeases {
  readonly #redis: RedisClient
  readonly #prefix: string
  readonly #max: number
  /** This intake's name in lease members. */
  readonly #intake = randomUUID()
  /** Held leases: member → client. */
  readonly #held = new Map<string, string>()
  readonly #timer: NodeJS.Timeout

  constructor (redis: RedisClient, prefix: string, maxPerClient: number, onRenewError: (err: unknown) => void) {
    takeStreamLeaseScript.define(redis)
    this.#redis = redis
    this.#prefix = prefix
    this.#max = maxPerClient
    this.#timer = setInterval(() => { this.#renew().catch(onRenewError) }, RENEW_MS)
    this.#timer.unref()
  }

  /** A slot for one more stream of `clientId`: its member, or undefined when the client holds every slot. */
  async take (clientId: string): Promise<string | undefined> {
    const member = `${this.#intake}:${randomUUID()}`
    const now = Date.now()
    const taken = await takeStreamLeaseScript.run(this.#redis, { streams: this.#key(clientId) }, { member, now, until: now + LEASE_MS, max: this.#max })
    if (taken !== 'taken') return undefined
    this.#held.set(member, clientId)
    return member
  }

  release (member: string): void {
    const clientId = this.#held.get(member)
    if (clientId === undefined) return
    this.#held.delete(member)
    // Not awaited: a lease that could not be removed lapses by itself.
    this.#redis.zrem(this.#key(clientId), member).catch(() => {})
  }

  close (): void {
    clearInterval(this.#timer)
    for (const member of [...this.#held.keys()]) this.release(member)
  }

  async #renew (): Promise<void> {
    const until = Date.now() + LEASE_MS
    await Promise.all([...this.#held].map(async ([member, clientId]) => {
      const key = this.#key(clientId)
      // XX: a lease released meanwhile is not brought back.
      await this.#redis.zadd(key, 'XX', until, member)
      await this.#redis.pexpireat(key, until)
    }))
  }

  #key (clientId: string): string {
    return redisKeys(this.#prefix).eventStreams(clientId)
  }
}
