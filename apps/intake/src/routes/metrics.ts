import type { FastifyPluginAsync } from 'fastify'

const metricsRoutes: FastifyPluginAsync = async (app) => {
  app.get('/metrics', { schema: { tags: ['operations'], summary: 'Prometheus metrics', hide: false } }, async (_request, reply) => {
    const { metrics, ticketQueues } = app
    metrics.queueDepth.reset()
    for (const [key] of ticketQueues.all()) {
      const counts = ticketQueues.counts(key)
      if (counts === undefined) continue
      for (const [state, n] of Object.entries(counts)) metrics.queueDepth.set({ product: key, state }, n)
      const workers = ticketQueues.workers(key)
      if (workers !== undefined) metrics.workers.set({ product: key }, workers)
    }
    metrics.longPolls.set(app.recordWaiter.waitingCount)
    void reply.type(metrics.registry.contentType)
    return metrics.registry.metrics()
  })
}

export default metricsRoutes
