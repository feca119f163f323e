import { createServer, type Server } from 'node:http'
import type { FastifyInstance, FastifyPluginAsync } from 'fastify'

/** The metrics text, with the queue gauges set from the last counts read. */
async function renderMetrics (app: FastifyInstance): Promise<string> {
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
  return metrics.registry.metrics()
}

/**
 * `GET /metrics` on the API port, or, with `METRICS_PORT`, only on a listener of its own: a public
 * load balancer then never exposes the metrics (they name products and queue depths).
 */
const metricsRoutes: FastifyPluginAsync = async (app) => {
  const { METRICS_PORT, METRICS_HOST } = app.config.env
  if (METRICS_PORT === undefined) {
    // Scraped every few seconds: request lines only at warn and above, as for the probes.
    app.get('/metrics', { logLevel: 'warn', schema: { tags: ['operations'], summary: 'Prometheus metrics', hide: false } }, async (_request, reply) => {
      void reply.type(app.metrics.registry.contentType)
      return renderMetrics(app)
    })
    return
  }
  let server: Server | undefined
  app.addHook('onReady', async () => {
    server = createServer((req, res) => {
      if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') return res.writeHead(404).end()
      renderMetrics(app).then(
        (text) => res.writeHead(200, { 'content-type': app.metrics.registry.contentType }).end(text),
        () => res.writeHead(500).end()
      )
    })
    await new Promise<void>((resolve, reject) => {
      server?.once('error', reject)
      server?.listen(METRICS_PORT, METRICS_HOST, () => resolve())
    })
    app.log.info({ metricsPort: (server.address() as { port: number }).port }, 'metrics listener started')
  })
  app.addHook('onClose', async () => {
    server?.closeAllConnections()
    await new Promise<void>((resolve) => { if (server === undefined) resolve(); else server.close(() => resolve()) })
  })
}

export default metricsRoutes
