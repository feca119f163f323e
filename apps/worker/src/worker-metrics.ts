import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

export type WorkerMetrics = ReturnType<typeof createWorkerMetrics>

type QueueCounts = () => Promise<Array<{ product: string, counts: Record<string, number> }>>

export function createWorkerMetrics () {
  const registry = new Registry()
  let readQueueCounts: QueueCounts | undefined
  collectDefaultMetrics({ register: registry })
  return {
    registry,
    readQueueCountsWith (source: QueueCounts): void {
      readQueueCounts = source
    },
    jobDuration: new Histogram({
      name: 'request_out_job_duration_seconds',
      help: 'Time of one try of a ticket, by product and outcome (completed, rejected, retry, failed, duplicate)',
      labelNames: ['product', 'outcome'] as const,
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: [registry]
    }),
    jobs: new Counter({
      name: 'request_out_jobs_total',
      help: 'Tries of tickets by product and outcome',
      labelNames: ['product', 'outcome'] as const,
      registers: [registry]
    }),
    idempotencyKeyRefusals: new Counter({
      name: 'request_out_upstream_idempotency_key_refusals_total',
      help: 'Upstream 422 answers that name the Idempotency-Key (the upstream holds another request under the ticket\'s key)',
      labelNames: ['product'] as const,
      registers: [registry]
    }),
    upstreamDuration: new Histogram({
      name: 'request_out_upstream_duration_seconds',
      help: 'Latency of http products\' upstream calls, by product and HTTP status ("error" for network errors and timeouts)',
      labelNames: ['product', 'status'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry]
    }),
    breakerState: new Gauge({
      name: 'request_out_product_breaker_state',
      help: 'A product\'s upstream breaker as this worker saw it last: 0 closed, 1 half-open, 2 open',
      labelNames: ['product'] as const,
      registers: [registry]
    }),
    breakerTransitions: new Counter({
      name: 'request_out_product_breaker_transitions_total',
      help: 'Upstream breaker transitions this worker made, by product and the state entered (open, half-open, closed)',
      labelNames: ['product', 'to'] as const,
      registers: [registry]
    }),
    upstreamPaused: new Gauge({
      name: 'request_out_upstream_paused_seconds',
      help: 'Seconds a product\'s workers still wait before taking a ticket: an upstream\'s back-pressure or an open breaker',
      labelNames: ['product'] as const,
      registers: [registry]
    }),
    redriveTickets: new Counter({
      name: 'request_out_redrive_tickets_total',
      help: 'Tickets redrives sent back to their queue (queued) or left (skipped) in this worker',
      labelNames: ['state'] as const,
      registers: [registry]
    }),
    queueJobs: new Gauge({
      name: 'request_out_queue_jobs',
      help: 'Jobs per product queue and state, read when scraped',
      labelNames: ['product', 'state'] as const,
      registers: [registry],
      // Read at scrape time, so the gauge is never older than the scrape.
      async collect () {
        if (readQueueCounts === undefined) return
        this.reset()
        try {
          for (const { product, counts } of await readQueueCounts()) {
            for (const [state, n] of Object.entries(counts)) this.set({ product, state }, n)
          }
        } catch { /* Redis away: the gauge stays empty rather than stale */ }
      }
    }),
    webhookGroupsRecreated: new Counter({
      name: 'request_out_event_groups_recreated_total',
      help: 'Times the webhook dispatcher found its consumer groups gone (Redis lost its data) and made them again',
      registers: [registry]
    }),
    webhookDeliveries: new Counter({
      name: 'request_out_webhook_deliveries_total',
      help: 'Webhook delivery attempts by outcome (delivered, failed, gone, refused, skipped)',
      labelNames: ['outcome'] as const,
      registers: [registry]
    }),
    webhookDuration: new Histogram({
      name: 'request_out_webhook_delivery_seconds',
      help: 'Time of one webhook delivery attempt, until the receiver answered or failed',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry]
    }),
    webhookPlaceWaits: new Counter({
      name: 'request_out_webhook_place_waits_total',
      help: 'Webhook deliveries that found their endpoint\'s in-flight places (WEBHOOK_MAX_IN_FLIGHT) taken, by how the wait ended: placed (a place came while it waited in its worker) or requeued (back to the queue)',
      labelNames: ['outcome'] as const,
      registers: [registry]
    }),
    webhookEndpointsDisabled: new Counter({
      name: 'request_out_webhook_endpoints_disabled_total',
      help: 'Webhook endpoints disabled because their receiver answered 410 Gone',
      registers: [registry]
    }),
    activeJobs: new Gauge({
      name: 'request_out_active_jobs',
      help: 'Tickets being processed by this worker, by product',
      labelNames: ['product'] as const,
      registers: [registry]
    })
  }
}
