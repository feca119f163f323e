import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import type { Availability } from '@request-out/contracts'

declare module 'fastify' {
  interface FastifyInstance {
    availability: ReturnType<typeof createAvailabilityStore>
  }
}

// Every intake re-reads the switches this often, so an admin's change is seen everywhere within 1 s
// without a Redis read per request.
const REFRESH_MS = 400

/** Admin switches of product availability, one Redis hash shared by every intake. */
function createAvailabilityStore (app: FastifyInstance) {
  const key = `${app.config.env.QUEUE_PREFIX}:availability`
  const redis = app.redis.producer
  let switches = new Map<string, Availability>()

  async function refresh (): Promise<void> {
    if (!app.redis.isReady()) return
    try {
      const raw = await redis.hgetall(key)
      switches = new Map(Object.entries(raw).map(([k, v]) => [k, JSON.parse(v) as Availability]))
    } catch { /* keep the last known switches while Redis is away */ }
  }
  const timer = setInterval(() => { void refresh() }, REFRESH_MS)
  timer.unref()

  return {
    refresh,
    /** The admin switch if one was set, else the catalog's initial availability. */
    get (productKey: string): Availability {
      const product = app.config.catalog.get(productKey)
      return switches.get(productKey) ?? {
        Available: product?.initiallyAvailable ?? false,
        UpdatedAt: new Date(0).toISOString(),
        UpdatedBy: 'catalog'
      }
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
