import { Queue, Worker } from 'bullmq'
import type { Logger } from 'pino'
import type { WorkerEnv } from '@request-out/contracts'
import { isRedisUnavailable, type RedisClient } from '@request-out/redis-connection'
import { bullmqTelemetry, resumeTracing } from '@request-out/tracing'
import {
  DeliveryState, EndpointStore, WebhookDispatcher, deliveryBackoff, retrySchedule, webhookDeliverer, type DeliveryJob
} from '@request-out/webhooks'
import type { WorkerMetrics } from './worker-metrics.js'
import { redisKeys } from '@request-out/redis-keys'

/**
 * Signed completion webhooks, in every products worker: the dispatcher turns records into delivery
 * jobs, and a BullMQ worker of its own (own queue, own concurrency) delivers them, so a slow or dead
 * endpoint never holds a ticket's worker slot.
 */
export class WebhookService {
  readonly #dispatcher: WebhookDispatcher
  readonly #worker: Worker<DeliveryJob>
  readonly #queue: Queue<DeliveryJob>
  readonly #deliver: ReturnType<typeof webhookDeliverer>

  constructor (connection: RedisClient, env: WorkerEnv, metrics: WorkerMetrics, log: Logger) {
    const { name, prefix } = redisKeys(env.QUEUE_PREFIX).webhookQueue
    const schedule = retrySchedule(env.WEBHOOK_RETRY_SCHEDULE)
    const endpoints = new EndpointStore(connection, env.QUEUE_PREFIX)
    const state = new DeliveryState(connection, env.QUEUE_PREFIX, env.RECORD_TTL_SECONDS)
    this.#queue = new Queue<DeliveryJob>(name, { connection, prefix, telemetry: bullmqTelemetry() })
    const quiet = (what: string) => (err: Error): void => {
      if (isRedisUnavailable(err)) log.debug({ err }, `${what} error while Redis is unreachable`)
      else log.warn({ err }, `${what} error`)
    }
    this.#queue.on('error', quiet('webhook queue'))
    this.#dispatcher = new WebhookDispatcher(connection, {
      prefix: env.QUEUE_PREFIX,
      batchSize: 500,
      pollMs: 100,
      claimIdleMs: 30_000,
      log,
      endpoints,
      state,
      queue: this.#queue,
      schedule,
      onGroupsLost: () => metrics.webhookGroupsRecreated.inc()
    })
    this.#deliver = webhookDeliverer({
      endpoints,
      state,
      timeoutMs: env.WEBHOOK_TIMEOUT_MS,
      maxInFlight: env.WEBHOOK_MAX_IN_FLIGHT,
      allowPrivate: env.WEBHOOK_ALLOW_PRIVATE_NETWORKS,
      log,
      placeWaited: (outcome) => metrics.webhookPlaceWaits.inc({ outcome }),
      observe: (outcome, seconds) => {
        metrics.webhookDeliveries.inc({ outcome })
        if (outcome !== 'skipped') metrics.webhookDuration.observe(seconds)
        if (outcome === 'gone') metrics.webhookEndpointsDisabled.inc()
      }
    })
    this.#worker = new Worker<DeliveryJob>(name, resumeTracing(this.#deliver), {
      connection,
      prefix,
      telemetry: bullmqTelemetry(),
      concurrency: env.WEBHOOK_CONCURRENCY,
      // A worker that dies mid-delivery leaves the job to another once its lock lapses.
      lockDuration: env.WORKER_LOCK_DURATION_MS,
      stalledInterval: env.WORKER_STALLED_INTERVAL_MS,
      maxStalledCount: env.WORKER_MAX_STALLED_COUNT,
      settings: { backoffStrategy: deliveryBackoff(schedule) },
      autorun: false
    })
    this.#worker.on('error', quiet('webhook worker'))
  }

  start (): void {
    this.#dispatcher.start()
    void this.#worker.run()
  }

  async stop (): Promise<void> {
    await this.#dispatcher.stop()
    // Deliveries in flight finish (each within WEBHOOK_TIMEOUT_MS) or go back to the queue.
    await this.#worker.close()
    await this.#queue.close()
    await this.#deliver.close()
  }
}
