import { randomInt } from 'node:crypto'
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import type { BreakerView } from '@request-out/contracts'
import { redisKeys } from '@request-out/redis-keys'
import {
  ackTransition, defineBreakerReads, isRefusing, pendingTransitions, readBreaker, stateAt, type BreakerState
} from '@request-out/upstream-breaker'

declare module 'fastify' {
  interface FastifyInstance {
    breakers: ReturnType<typeof createBreakerWatch>
  }
}

// Every intake reads the breakers this often, so a breaker the workers open refuses new tickets
// on every intake within 1 s, without a Redis read per request.
const REFRESH_MS = 400

/** Why new tickets are refused while a product's breaker is open. */
export interface BreakerRefusal {
  /** Seconds to the next probe, plus up to a tenth more at random, so refused clients do not all come back at once. */
  retryAfterSeconds: number
  reason: string
}

const iso = (ms: number): string | null => ms > 0 ? new Date(ms).toISOString() : null

/**
 * The products' upstream breakers as the workers decide them (read-only here), and the audit
 * entries of their transitions: each intake writes those it finds queued, through the operator
 * actions, so a transition is audited even when the worker that made it died right after.
 */
function createBreakerWatch (app: FastifyInstance) {
  const keys = redisKeys(app.config.env.QUEUE_PREFIX)
  const redis = app.redis.producer
  const guarded = app.config.catalog.list().filter((p) => p.breaker !== undefined)
  let breakers = new Map<string, BreakerState>()
  defineBreakerReads(redis)

  async function auditTransitions (product: string): Promise<void> {
    for (const { raw, transition } of await pendingTransitions(redis, keys, product)) {
      await app.operatorActions.breakerTransition(product, transition)
      await ackTransition(redis, keys, product, raw)
    }
  }

  async function refresh (): Promise<void> {
    if (!app.redis.isReady()) return
    try {
      const read = await Promise.all(guarded.map(async (p) => [p.key, await readBreaker(redis, keys, p.key)] as const))
      breakers = new Map(read)
      for (const p of guarded) await auditTransitions(p.key)
    } catch (err) {
      // Redis away or hung (the connection monitor tells that), or the audit trail refused: keep
      // the last known breakers; a transition not audited stays queued for the next round.
      app.log.debug({ err }, 'upstream breakers not refreshed')
    }
  }
  const timer = setInterval(() => { void refresh() }, REFRESH_MS)
  timer.unref()

  return {
    refresh,
    /** The product's breaker for GET /v1/products and the products page; null when the catalog turns it off. */
    view (productKey: string): BreakerView | null {
      if (app.config.catalog.get(productKey)?.breaker === undefined) return null
      const b = breakers.get(productKey)
      if (b === undefined) return { State: 'closed', Since: null, LastFailure: null, NextProbeAt: null }
      const state = stateAt(b, Date.now())
      return { State: state, Since: iso(b.since), LastFailure: iso(b.lastFailure), NextProbeAt: state === 'open' ? iso(b.probeAt) : null }
    },
    /** Set while new tickets of the product are refused: its breaker is open and it says `WhenUpstreamDown: "refuse"`. */
    refusal (productKey: string): BreakerRefusal | undefined {
      const b = breakers.get(productKey)
      const now = Date.now()
      if (b === undefined || !isRefusing(b, now) || app.config.catalog.get(productKey)?.whenUpstreamDown !== 'refuse') return undefined
      const seconds = Math.max(1, Math.ceil((b.probeAt - now) / 1000))
      return {
        retryAfterSeconds: seconds + randomInt(Math.ceil(seconds / 10) + 1),
        reason: `The product's upstream is failing (${b.reason}); new tickets are refused until a probe finds it back`
      }
    },
    close (): void {
      clearInterval(timer)
    }
  }
}

async function upstreamBreakersPlugin (app: FastifyInstance): Promise<void> {
  const watch = createBreakerWatch(app)
  app.decorate('breakers', watch)
  app.redis.producer.on('ready', () => { void watch.refresh() })
  app.addHook('onReady', async () => { await watch.refresh() })
  app.addHook('onClose', async () => watch.close())
}

export default fp(upstreamBreakersPlugin, { name: 'upstream-breakers', dependencies: ['config', 'redis', 'operator-actions'], fastify: '5.x' })
