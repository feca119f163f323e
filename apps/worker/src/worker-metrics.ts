import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

export type WorkerMetrics = ReturnType<typeof createWorkerMetrics>

export function createWorkerMetrics () {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })
  return {
    registry,
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
    upstreamDuration: new Histogram({
      name: 'request_out_upstream_duration_seconds',
      help: 'Latency of http products\' upstream calls, by product and HTTP status ("error" for network errors and timeouts)',
      labelNames: ['product', 'status'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
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
