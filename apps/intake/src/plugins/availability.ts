import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { Value } from '@sinclair/typebox/value'
import { Availability } from '@request-out/contracts'
import { redisKeys } from '@request-out/redis-keys'

declare module 'fastify' {
  interface FastifyInstance {
    availability: ReturnType<typeof createAvailabilityStore>
  }
}

// Every intake re-reads the switches this often, so an admin's change is seen everywhere within 1 s
// without a Redis read per request.
const REFRESH_MS = 400

const catalogAvailability = (available: boolean): Availability =>
  Object.freeze({ Available: available, UpdatedAt: new Date(0).toISOString(), UpdatedBy: 'catalog' })

/** Admin switches of product availability, one Redis hash shared by every intake. */
function createAvailabilityStore (app: FastifyInstance) {
  const key = redisKeys(app.config.env.QUEUE_PREFIX).availability
  const redis = app.redis.producer
  let switches = new Map<string, Availability>()
  // What the catalog says, made once per product at start (asked on every POST).
  const fromCatalog = new Map(app.config.catalog.list().map((p) => [p.key, catalogAvailability(p.initiallyAvailable)]))
  const reported = new Set<string>()

  /** One switch as stored; a corrupt one is reported once and keeps its last good value. */
  function parsed (product: string, value: string): Availability | undefined {
    let candidate: unknown
    try { candidate = JSON.parse(value) } catch { candidate = undefined }
    if (Value.Check(Availability, candidate)) {
      reported.delete(product)
      return candidate
    }
    if (!reported.has(product)) app.log.warn({ product, key }, 'an availability switch in Redis is not valid; keeping its last good value')
    reported.add(product)
    return switches.get(product)
  }

  async function refresh (): Promise<void> {
    if (!app.redis.isReady()) return
    try {
      const raw = await redis.hgetall(key)
      const next = new Map<string, Availability>()
      for (const [product, value] of Object.entries(raw)) {
        const availability = parsed(product, value)
        if (availability !== undefined) next.set(product, availability)
      }
      switches = next
    } catch {
      // Redis away or hung: the connection monitor tells that; keep the last known switches.
    }
  }
  const timer = setInterval(() => { void refresh() }, REFRESH_MS)
  timer.unref()

  return {
    refresh,
    /** The admin switch if one was set, else the catalog's initial availability. */
    get (productKey: string): Availability {
      return switches.get(productKey) ?? fromCatalog.get(productKey) ?? catalogAvailability(false)
    },
    isAvailable (productKey: string): boolean {
      return this.get(productKey).Available
    },
    async set (productKey: string, available: boolean, reason: string | undefined, by: string): Promise<Availability> {
      const value: Availability = {
        Available: available,
        ...(reason === undefined ? {} : { Reason: reason }),
        UpdatedAt: new Date().toISOString(),
        UpdatedBy: by
      }
      await redis.hset(key, productKey, JSON.stringify(value))
      switches.set(productKey, value)
      return value
    },
    close (): void {
      clearInterval(timer)
    }
  }
}

async function availabilityPlugin (app: FastifyInstance): Promise<void> {
  const store = createAvailabilityStore(app)
  app.decorate('availability', store)
  app.redis.producer.on('ready', () => { void store.refresh() })
  app.addHook('onClose', async () => store.close())
}

export default fp(availabilityPlugin, { name: 'availability', dependencies: ['config', 'redis'], fastify: '5.x' })
