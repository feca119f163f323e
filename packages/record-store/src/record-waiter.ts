import type { Cluster, Redis } from 'ioredis'
import { redisKeys } from '@request-out/redis-keys'

type RedisClient = Redis | Cluster

/**
 * Wakes long polls when a record is stored. One subscription per process, whatever the number of
 * waiting requests: each waits on an in-memory entry keyed by ticket id. Only records of tickets a
 * long poll has read with `RecordStore.read(…, watch)` are announced, so an intake hears of the
 * tickets some intake waits on, not of every ticket.
 */
export class RecordWaiter {
  readonly #subscriber: RedisClient
  readonly #channel: string
  readonly #waiting = new Map<string, Set<() => void>>()
  #subscribed: Promise<unknown> | undefined

  constructor (subscriber: RedisClient, prefix: string) {
    this.#subscriber = subscriber
    this.#channel = redisKeys(prefix).records
    subscriber.on('message', (channel: string, id: string) => {
      if (channel === this.#channel) this.#wake(id)
    })
  }

  /** Subscribes; ioredis re-subscribes by itself after a reconnect. */
  async start (): Promise<void> {
    this.#subscribed ??= this.#subscriber.subscribe(this.#channel)
    await this.#subscribed
  }

  get waitingCount (): number {
    let n = 0
    for (const set of this.#waiting.values()) n += set.size
    return n
  }

  /**
   * Returns a handle whose `promise` resolves true when a record for `id` is announced, or false
   * after `timeoutMs` or on `cancel()`. Register before reading the store, so a record written in
   * between is not missed.
   */
  waitFor (id: string, timeoutMs: number): { promise: Promise<boolean>, cancel: () => void } {
    let settle!: (woken: boolean) => void
    const promise = new Promise<boolean>((resolve) => { settle = resolve })
    const onRecord = (): void => finish(true)
    const timer = setTimeout(() => finish(false), timeoutMs)
    const finish = (woken: boolean): void => {
      clearTimeout(timer)
      const set = this.#waiting.get(id)
      if (set !== undefined) {
        set.delete(onRecord)
        if (set.size === 0) this.#waiting.delete(id)
      }
      settle(woken)
    }
    let set = this.#waiting.get(id)
    if (set === undefined) {
      set = new Set()
      this.#waiting.set(id, set)
    }
    set.add(onRecord)
    return { promise, cancel: () => finish(false) }
  }

  #wake (id: string): void {
    const set = this.#waiting.get(id)
    if (set === undefined) return
    for (const wake of [...set]) wake()
  }

  /** Releases every waiter (they re-read the store and answer) — used on shutdown. */
  releaseAll (): void {
    for (const id of [...this.#waiting.keys()]) this.#wake(id)
  }
}
