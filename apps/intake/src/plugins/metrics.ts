import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

declare module 'fastify' {
  interface FastifyInstance {
    metrics: ReturnType<typeof createMetrics>
  }
  interface FastifyRequest {
    /** Set on ticket submissions: counted once, when the answer is sent, whatever path it took. */
    /** The submissions a request answered (one POST, or a batch's tickets), each counted in request_out_tickets_total. */
    ticketOutcomes: Array<{ product: string, outcome: string }> | undefined
    /** Fields a route adds to the request's one access log line (a ticket's ids and outcome). */
    logFields: Record<string, unknown> | undefined
  }
  interface FastifyContextConfig {
    /** The route submits tickets; refusals before the handler count as ticket outcomes too. */
    countsTickets?: boolean
    /** An event stream (SSE): open for minutes, so kept out of the HTTP latency histogram and its alert. */
    eventStream?: boolean
  }
}

/** One registry per app, so tests can build several apps in one process. */
function createMetrics () {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })
  return {
    registry,
    httpDuration: new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request duration by route and status',
      labelNames: ['method', 'route', 'status_code'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry]
    }),
    tickets: new Counter({
      name: 'request_out_tickets_total',
      help: 'Tickets answered by the intake, by product and outcome (accepted, duplicate, or the refusal code)',
      labelNames: ['product', 'outcome'] as const,
      registers: [registry]
    }),
    queueDepth: new Gauge({
      name: 'request_out_queue_jobs',
      help: 'Jobs per product queue and state (as last read, at most 1 s old)',
      labelNames: ['product', 'state'] as const,
      registers: [registry]
    }),
    workers: new Gauge({
      name: 'request_out_queue_workers',
      help: 'Workers connected to each product queue (as last read, at most 5 s old)',
      labelNames: ['product'] as const,
      registers: [registry]
    }),
    longPolls: new Gauge({
      name: 'request_out_long_polls',
      help: 'Requests currently held by Prefer: wait',
      registers: [registry]
    }),
    sseStreams: new Gauge({
      name: 'request_out_sse_streams',
      help: 'Event streams (SSE) this intake holds open, by route (ticket: one ticket\'s events; client: GET /v1/events)',
      labelNames: ['route'] as const,
      registers: [registry]
    }),
    sseEvents: new Counter({
      name: 'request_out_sse_events_total',
      help: 'Ticket events sent on event streams',
      registers: [registry]
    }),
    sseDropped: new Counter({
      name: 'request_out_sse_dropped_total',
      help: 'Event streams ended or refused by the intake, by reason (slow: the client did not read; revoked: its token or user was; intake-limit: SSE_MAX_STREAMS; client-limit: SSE_MAX_STREAMS_PER_CLIENT)',
      labelNames: ['reason'] as const,
      registers: [registry]
    }),
    historyBacklog: new Gauge({
      name: 'request_out_history_backlog',
      help: 'Ticket events in Redis not yet stored in history (as last read, at most 2 s old); POST answers 503 past HISTORY_BACKLOG_MAX',
      registers: [registry]
    })
  }
}

async function metricsPlugin (app: FastifyInstance): Promise<void> {
  const metrics = createMetrics()
  app.decorate('metrics', metrics)
  app.decorateRequest('ticketOutcomes', undefined)
  if (app.config.benchOff.has('metrics')) return
  app.addHook('onResponse', async (request, reply) => {
    for (const outcome of request.ticketOutcomes ?? []) metrics.tickets.inc(outcome)
    if (request.routeOptions.config.eventStream === true) return
    metrics.httpDuration.observe({
      method: request.method,
      // The route pattern, never the raw URL: TicketIds would explode the label set.
      route: request.routeOptions.url ?? 'unmatched',
      status_code: String(reply.statusCode)
    }, reply.elapsedTime / 1000)
  })
}

export default fp(metricsPlugin, { name: 'metrics', dependencies: ['config'], fastify: '5.x' })
