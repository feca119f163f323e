import { setMaxListeners } from 'node:events'
import { hostname } from 'node:os'
import { MetricsTime, Queue, Worker, type Job } from 'bullmq'
import type { Logger } from 'pino'
import { Message, failedEnvelope, type TicketJob } from '@request-out/contracts'
import { QUEUE_STATES } from '@request-out/runtime'
import { retryPolicy, type Product } from '@request-out/product-catalog'
import type { RecordStore } from '@request-out/record-store'
import { bullmqTelemetry, resumeTracing } from '@request-out/tracing'
import { isRedisUnavailable, type RedisClient } from '@request-out/redis-connection'
import type { CancelListener } from './cancel-listener.js'
import { ClientSlots } from './client-slots.js'
import { createHandler } from './handlers/index.js'
import { ticketLogFields, ticketProcessor } from './ticket-processor.js'
import type { WorkerMetrics } from './worker-metrics.js'
import { redisKeys } from '@request-out/redis-keys'
import { ProductBreaker, pauseProduct, type BreakerStateName } from '@request-out/upstream-breaker'

const STATE_GAUGE: Record<BreakerStateName, number> = { closed: 0, 'half-open': 1, open: 2 }

/** A limiter no product reaches (a million jobs a second per queue). */
const UNBOUND_LIMITER = { max: 1_000_000, duration: 1000 }

export interface ProductWorkersOptions {
  products: Product[]
  connection: RedisClient
  queuePrefix: string
  recordStore: RecordStore
  /** Aborts the try of a ticket cancelled while it runs here. */
  cancels: CancelListener
  metrics: WorkerMetrics
  log: Logger
  lockDurationMs: number
  stalledIntervalMs: number
  maxStalledCount: number
  keepCompleted: { age: number, count: number }
  keepFailed: { age: number, count: number }
}

/**
 * One BullMQ Worker per product served: each product has its own queue, concurrency and rate
 * limit, so a slow or failing product never holds up another.
 */
export class ProductWorkers {
  readonly #workers: Array<{ product: Product, worker: Worker<TicketJob>, queue: Queue<TicketJob>, breaker: ProductBreaker | undefined, closeHandler: () => Promise<void> }> = []
  readonly #stopping = new AbortController()
  readonly #log: Logger
  #closing: Promise<void> | undefined
  /** Tries running in this process now. */
  #running = 0

  constructor (options: ProductWorkersOptions) {
    this.#log = options.log
    // Every running try listens on the stop signal (up to the sum of the products' concurrency).
    setMaxListeners(0, this.#stopping.signal)
    const keys = redisKeys(options.queuePrefix)
    const workerId = `${hostname()}:${process.pid}`
    for (const product of options.products) {
      const { handle, close } = createHandler(product, {
        call: (key, status, seconds) => options.metrics.upstreamDuration.observe({ product: key, status }, seconds),
        keyRefused: (key) => options.metrics.idempotencyKeyRefusals.inc({ product: key })
      })
      const log = options.log.child({ product: product.key })
      const { name, prefix } = keys.productQueue(product.key)
      // Read-only use (job counts for /metrics, ClientConcurrency's keys); shares the worker's connection.
      const queue = new Queue<TicketJob>(name, { connection: options.connection, prefix })
      // A slot outlives its try by a margin: a try never runs longer than the product's timeout.
      const clientSlots = product.clientConcurrency === undefined
        ? undefined
        : new ClientSlots(options.connection, keys, product.key, product.clientConcurrency, product.timeoutMs + 30_000)
      const breaker = this.#breaker(options, product, log)
      // With tracing, each try's span is a child of the enqueue's (its context travels in the job).
      const processor = ticketProcessor({
        product,
        handle,
        recordStore: options.recordStore,
        metrics: options.metrics,
        log: options.log,
        stopping: this.#stopping.signal,
        cancels: options.cancels,
        workerId,
        // BullMQ's manual rate limit: every worker of the queue waits it out (they all have a limiter).
        pause: async (ms) => { await pauseProduct(options.connection, keys, product.key, ms) },
        ...(clientSlots === undefined ? {} : { clientSlots }),
        ...(breaker === undefined ? {} : { breaker })
      })
      // Counted, so a stop can tell running jobs from a close that waits on an unreachable Redis.
      const counted: typeof processor = async (...args) => {
        this.#running++
        try {
          return await processor(...args)
        } finally {
          this.#running--
        }
      }
      const worker = new Worker<TicketJob>(name, resumeTracing(counted), {
        connection: options.connection,
        prefix,
        telemetry: bullmqTelemetry(),
        concurrency: product.concurrency,
        // Every product has a limiter, its catalog RateLimit's or one that never binds: without one a
        // worker does not honour the queue's manual rate limit, which is how an upstream's
        // back-pressure pauses the product on every worker.
        limiter: product.rateLimit === undefined ? UNBOUND_LIMITER : { max: product.rateLimit.max, duration: product.rateLimit.durationMs },
        lockDuration: options.lockDurationMs,
        stalledInterval: options.stalledIntervalMs,
        maxStalledCount: options.maxStalledCount,
        removeOnComplete: options.keepCompleted,
        removeOnFail: options.keepFailed,
        // Per-minute completed/failed counts for a day, read by the dashboard's products page.
        metrics: { maxDataPoints: MetricsTime.ONE_HOUR * 24 },
        autorun: false
      })
      // Connection errors repeat on every reconnect attempt; the connection monitor tells the outage once.
      const onError = (what: string) => (err: Error): void => {
        if (isRedisUnavailable(err)) log.debug({ err }, `${what} error while Redis is unreachable`)
        else log.warn({ err }, `${what} error`)
      }
      worker.on('error', onError('worker'))
      worker.on('stalled', (jobId) => log.warn({ jobId }, 'job stalled (its worker stopped); it runs again'))
      worker.on('failed', (job, err) => { void this.#onFailed(options.recordStore, product, job, err, log) })
      queue.on('error', onError('queue'))
      this.#workers.push({ product, worker, queue, breaker, closeHandler: close })
    }
  }

  /** The product's side of its fleet-wide upstream breaker, told to this worker's metrics and log. */
  #breaker (options: ProductWorkersOptions, product: Product, log: Logger): ProductBreaker | undefined {
    if (product.breaker === undefined) return undefined
    const { metrics } = options
    let unreachable = false
    // A probe's lease outlives its try by a margin: a try never runs longer than the product's timeout.
    return new ProductBreaker(options.connection, redisKeys(options.queuePrefix), product.key, product.breaker, product.timeoutMs + 5_000, {
      seen: (state, pausedMs) => {
        unreachable = false
        metrics.breakerState.set({ product: product.key }, STATE_GAUGE[state])
        metrics.upstreamPaused.set({ product: product.key }, pausedMs / 1000)
      },
      transition: (to, reason) => {
        metrics.breakerTransitions.inc({ product: product.key, to })
        const line = { breaker: to, reason }
        if (to === 'closed') log.info(line, 'upstream breaker closed: the product runs on every worker again')
        else log.warn(line, to === 'open' ? 'upstream breaker open: no worker starts a ticket of the product until its probe' : 'upstream breaker half-open: one probe try')
      },
      unreachable: (err) => {
        if (!unreachable && !isRedisUnavailable(err)) log.warn({ err }, 'the upstream breaker could not be read; keeping its last state')
        unreachable = true
      }
    })
  }

  /**
   * A job can fail without our processor writing its record: it stalled more than
   * maxStalledCount times (its workers kept dying). Give the ticket its 502 record then.
   */
  async #onFailed (store: RecordStore, product: Product, job: Job<TicketJob> | undefined, err: Error, log: Logger): Promise<void> {
    if (job === undefined) return
    try {
      if (!(await job.isFailed())) return
      const written = await store.writeRecord(job.data.ClientId, job.data.TicketId, failedEnvelope(job.data, retryPolicy.exhaustedCode, Message.PRODUCT_FAILED),
        { startedAt: job.processedOn ?? Date.now(), tries: job.attemptsMade, tryId: String(job.processedOn ?? '') })
      if (written) log.warn({ ...ticketLogFields(job, product.key), reason: err.message }, 'ticket failed outside its processor; failure record stored')
    } catch (e) {
      log.warn({ err: e, jobId: job.id }, 'could not check a failed job')
    }
  }

  start (): void {
    for (const { worker, breaker } of this.#workers) {
      breaker?.start()
      worker.run().catch((err: unknown) => this.#log.error({ err }, 'worker stopped running'))
    }
  }

  get products (): string[] {
    return this.#workers.map((w) => w.product.key)
  }

  /** Job counts per served product queue, for the queue depth gauge. */
  async jobCounts (): Promise<Array<{ product: string, counts: Record<string, number> }>> {
    return Promise.all(this.#workers.map(async ({ product, queue }) => ({
      product: product.key,
      counts: await queue.getJobCounts(...QUEUE_STATES)
    })))
  }

  /** True while every product worker is running and connected. */
  isReady (): boolean {
    return this.#workers.every(({ worker }) => worker.isRunning())
  }

  /**
   * Stops taking jobs and lets running ones finish for up to `timeoutMs`; past that, running
   * handlers are aborted and their jobs go back to the queue (their locks lapse and another
   * worker takes them). Safe to call more than once.
   */
  async close (timeoutMs: number): Promise<void> {
    this.#closing ??= (async () => {
      const graceful = Promise.allSettled(this.#workers.map(async ({ worker }) => worker.close()))
      let timer: NodeJS.Timeout | undefined
      const timedOut = await Promise.race([
        graceful.then(() => false),
        new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(true), timeoutMs) })
      ])
      clearTimeout(timer)
      if (timedOut) {
        if (this.#running > 0) this.#log.warn({ timeoutMs, running: this.#running }, 'running jobs did not finish in time; handing them back to the queue')
        else this.#log.info({ timeoutMs }, 'no job was running; stopping without waiting for Redis any longer')
        this.#stopping.abort()
        await Promise.allSettled(this.#workers.map(async ({ worker }) => worker.close(true)))
      }
      await Promise.allSettled(this.#workers.map(async ({ closeHandler, queue, breaker }) => Promise.all([closeHandler(), queue.close(), breaker?.close()])))
    })()
    await this.#closing
  }
}
