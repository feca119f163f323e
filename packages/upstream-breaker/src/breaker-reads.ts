import type { RedisClient } from '@request-out/redis-connection'
import type { RedisKeys } from '@request-out/redis-keys'
import { BREAKER_FIELDS, parseBreaker, type BreakerState } from './breaker-state.js'
import { ackTransitionScript } from './scripts/ack-transition.js'
import { pauseProductScript } from './scripts/pause-product.js'

/** A breaker's open or close, as the transition scripts queue it for its audit entry. */
export interface BreakerTransition {
  /** The breaker's own counter: an entry audited twice (two intakes at once) is told apart by it. */
  seq: number
  to: 'open' | 'close'
  from: 'closed' | 'half-open'
  at: number
  reason: string
  openMs?: number
  probeAt?: number
}

/** Defines the scripts an intake runs on a connection (before the first call in a pipeline). */
export function defineBreakerReads (redis: RedisClient): void {
  ackTransitionScript.define(redis)
  pauseProductScript.define(redis)
}

/** A product's breaker as Redis holds it now (one HMGET). */
export async function readBreaker (redis: RedisClient, keys: RedisKeys, product: string): Promise<BreakerState> {
  return parseBreaker(await redis.hmget(keys.breaker(product), ...BREAKER_FIELDS))
}

/** The oldest transitions not audited yet, with the text `ackTransition` takes back. */
export async function pendingTransitions (redis: RedisClient, keys: RedisKeys, product: string, max = 20): Promise<Array<{ raw: string, transition: BreakerTransition }>> {
  const raws = await redis.lrange(keys.breakerTransitions(product), 0, max - 1)
  return raws.flatMap((raw) => {
    try {
      return [{ raw, transition: JSON.parse(raw) as BreakerTransition }]
    } catch {
      return []
    }
  })
}

/** Takes an audited transition off its list (when it is still the oldest). */
export async function ackTransition (redis: RedisClient, keys: RedisKeys, product: string, raw: string): Promise<boolean> {
  return await ackTransitionScript.run(redis, { transitions: keys.breakerTransitions(product) }, { entry: raw })
}

/** Pauses the product on every worker for `ms` (an upstream's back-pressure), unless a longer pause stands. */
export async function pauseProduct (redis: RedisClient, keys: RedisKeys, product: string, ms: number): Promise<boolean> {
  return await pauseProductScript.run(redis, { limiter: keys.limiter(product) }, { ms })
}
