import type { Server } from 'node:http'
import { hostname } from 'node:os'
import { Queue } from 'bullmq'
import type { Logger } from 'pino'
import { Value } from '@sinclair/typebox/value'
import { Availability } from '@request-out/contracts'
import { RedriveRunner } from '@request-out/redrive'
import { redisKeys } from '@request-out/redis-keys'
import { RecordStore } from '@request-out/record-store'
import { closeRedis, createRedis, describeTarget, isRedisReady, monitorConnection, type ConnectionMonitor } from '@request-out/redis-connection'
import type { WorkerConfig } from './config.js'
import { CancelListener } from './cancel-listener.js'
import { WebhookService } from './webhook-service.js'
import { eventRetention, startEventTrimmer } from './event-trimmer.js'
import { closeHealthServer, startHealthServer } from './health-server.js'
import { ProductWorkers } from './product-workers.js'
import { createWorkerMetrics } from './worker-metrics.js'

/** A worker process's parts, started and stopped together. */
export class WorkerService {
  readonly metrics = createWorkerMetrics()
  readonly #config: WorkerConfig
  readonly #log: Logger
  readonly #redis
  readonly #monitor: ConnectionMonitor
  readonly #workers: ProductWorkers
  readonly #subscriber
  readonly #cancels: CancelListener
  readonly #webhooks: WebhookService
  readonly #redrives: RedriveRunner
  /** Queues of every catalog product, for the redrive runner (it sends back tickets of products this process does not serve too). */
  readonly #queues = new Map<string, Queue>()
  #stopTrimmer: (() => void) | undefined
  #health: { server: Server, port: number } | undefined
  #stopping: Promise<void> | undefined

  constructor (config: WorkerConfig, log: Logger) {
    this.#config = config
    this.#log = log
    const { env } = config
    // Workers wait for Redis (maxRetriesPerRequest: null): a Redis restart pauses work, never loses it.
    this.#redis = createRedis(config.redis, 'worker', 'request-out:worker')
    this.#monitor = monitorConnection(this.#redis, log, { name: 'worker', target: describeTarget(config.redis), warnPersistence: config.env.REDIS_PERSISTENCE_WARNING === 'on' })
    const recordStore = new RecordStore(this.#redis, { prefix: env.QUEUE_PREFIX, ttlSeconds: env.RECORD_TTL_SECONDS })
    // Cancellations arrive by pub/sub, on a connection of their own (a subscribed connection does nothing else).
    this.#subscriber = createRedis(config.redis, 'subscriber', 'request-out:worker-cancels')
    this.#subscriber.on('error', () => {}) // the worker connection's monitor tells an outage
    this.#cancels = new CancelListener(this.#subscriber, env.QUEUE_PREFIX, log)
    this.#webhooks = new WebhookService(this.#redis, env, this.metrics, log)
    this.#workers = new ProductWorkers({
      products: config.products,
      connection: this.#redis,
      queuePrefix: env.QUEUE_PREFIX,
      recordStore,
      cancels: this.#cancels,
      metrics: this.metrics,
      log,
      lockDurationMs: env.WORKER_LOCK_DURATION_MS,
      stalledIntervalMs: env.WORKER_STALLED_INTERVAL_MS,
      maxStalledCount: env.WORKER_MAX_STALLED_COUNT,
      keepCompleted: { age: env.JOBS_KEEP_COMPLETED_SECONDS, count: env.JOBS_KEEP_COMPLETED_COUNT },
      keepFailed: { age: env.JOBS_KEEP_FAILED_SECONDS, count: env.JOBS_KEEP_FAILED_COUNT }
    })
    this.#redrives = this.#redriveRunner(recordStore)
  }

  #redriveRunner (recordStore: RecordStore): RedriveRunner {
    const { env, catalog } = this.#config
    const keys = redisKeys(env.QUEUE_PREFIX)
    return new RedriveRunner({
      redis: this.#redis,
      prefix: env.QUEUE_PREFIX,
      recordStore,
      queueFor: (product) => {
        if (catalog.get(product) === undefined) return undefined
        let queue = this.#queues.get(product)
        if (queue === undefined) {
          const { name, prefix } = keys.productQueue(product)
          queue = new Queue(name, { connection: this.#redis, prefix })
          queue.on('error', () => {}) // the worker connection's monitor tells an outage
          this.#queues.set(product, queue)
        }
        return queue
      },
      productOf: (product) => catalog.get(product),
      fairShared: (product) => catalog.get(product)?.fairness === 'client',
      available: async (product) => {
        let stored: unknown
        try { stored = JSON.parse(await this.#redis.hget(keys.availability, product) ?? 'null') } catch { stored = null }
        return Value.Check(Availability, stored) ? stored.Available : catalog.get(product)?.initiallyAvailable ?? false
      },
      maxQueueDepth: env.REDRIVE_MAX_QUEUE_DEPTH,
      ticketsPerSecond: env.REDRIVE_TICKETS_PER_SECOND,
      holder: `${hostname()}:${process.pid}`,
      counted: (state) => this.metrics.redriveTickets.inc({ state }),
      log: this.#log.child({ component: 'redrive' })
    })
  }

  get healthPort (): number | undefined {
    return this.#health?.port
  }

  async start (): Promise<void> {
    // Not awaited: a worker starts while Redis is away; ioredis subscribes once it connects.
    this.#cancels.start().catch((err: unknown) => this.#log.warn({ err }, 'cancellations not subscribed yet'))
    this.#workers.start()
    this.#webhooks.start()
    this.#redrives.start()
    this.metrics.readQueueCountsWith(async () => this.#workers.jobCounts())
    this.#health = await startHealthServer(this.#config.env.WORKER_METRICS_HOST, this.#config.env.WORKER_METRICS_PORT, {
      registry: this.metrics.registry,
      readiness: async () => ({ redis: isRedisReady(this.#redis), workers: this.#workers.isReady() })
    })
    this.#stopTrimmer = startEventTrimmer(this.#redis, this.#config.env.QUEUE_PREFIX, eventRetention(this.#config.env), () => isRedisReady(this.#redis), this.#log)
    this.#log.info({ products: this.#workers.products, healthPort: this.#health.port }, 'worker started')
  }

  /** Graceful stop: no new jobs, running ones finish (or go back to the queue), connections close. */
  async stop (): Promise<void> {
    this.#stopping ??= (async () => {
      this.#stopTrimmer?.()
      await Promise.all([this.#workers.close(this.#config.env.SHUTDOWN_TIMEOUT_MS), this.#webhooks.stop(), this.#redrives.stop()])
      await Promise.allSettled([...this.#queues.values()].map(async (q) => q.close()))
      // Closed first: the connection this process closes itself is no outage to warn about.
      this.#monitor.close()
      await closeRedis(this.#redis)
      await closeRedis(this.#subscriber)
      await closeHealthServer(this.#health?.server)
    })()
    await this.#stopping
  }
}
