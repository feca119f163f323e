import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { HealthResponse } from '@request-out/contracts'

/** Kubernetes-style probes: live = the process answers; ready = Redis answers and queues are usable. */
const healthRoutes: FastifyPluginAsyncTypebox = async (app) => {
  // Probes come every few seconds from load balancers and orchestrators: their request lines would
  // drown the log, so only warnings and errors of these routes are logged.
  app.get('/health/live', {
    logLevel: 'warn',
    schema: { tags: ['operations'], summary: 'The process is up', response: { 200: HealthResponse } }
  }, async () => ({ Status: 'ok' as const, Checks: { process: true } }))

  app.get('/health/ready', {
    logLevel: 'warn',
    schema: { tags: ['operations'], summary: 'Redis reachable, catalog loaded, queues usable', response: { 200: HealthResponse, 503: HealthResponse } }
  }, async (_request, reply) => {
    let redis = false
    if (app.redis.isReady()) {
      try {
        redis = (await app.redis.producer.ping()) === 'PONG'
      } catch { redis = false }
    }
    const checks = {
      redis,
      catalog: app.config.catalog.list().length > 0,
      notifications: app.redis.subscriber.status === 'ready'
    }
    const ok = Object.values(checks).every(Boolean)
    if (!ok) void reply.code(503).header('retry-after', '1')
    return { Status: ok ? 'ok' as const : 'unavailable' as const, Checks: checks }
  })
}

export default healthRoutes
