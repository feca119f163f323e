import type { Server } from 'node:http'
import type { Logger } from 'pino'
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import { ConfigError } from '@request-out/contracts'
import { HistoryStore, HistoryWriter, createHistoryPool, describeDatabase, historyBacklog, migrateHistory } from '@request-out/history'
import { personalFields } from '@request-out/product-catalog'
import { closeRedis, createRedis, describeTarget, isRedisReady, monitorConnection, type ConnectionMonitor } from '@request-out/redis-connection'
import type { WorkerConfig } from './config.js'
import { eventRetention, startEventTrimmer } from './event-trimmer.js'
import { closeHealthServer, startHealthServer } from './health-server.js'

/** How often retention and the erasure of personal data run (any writer; the work is batched and idempotent). */
const SWEEP_INTERVAL_MS = 3_600_000
/** Statements of the writer (a batch, a sweep's batch) may take this long before they count as failed. */
const WRITER_QUERY_TIMEOUT_MS = 30_000

function historyMetrics (registry: Registry) {
  return {
    events: new Counter({ name: 'request_out_history_events_total', help: 'Ticket events stored in history by this writer', registers: [registry] }),
    batchDuration: new Histogram({
      name: 'request_out_history_batch_seconds',
      help: 'Time to store one batch of events (one transaction) and acknowledge it',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry]
    }),
    failures: new Counter({ name: 'request_out_history_write_failures_total', help: 'Batches that could not be stored (PostgreSQL or Redis away); each is retried', registers: [registry] }),
    groupsRecreated: new Counter({ name: 'request_out_history_groups_recreated_total', help: 'Times the history writer found its consumer groups gone (Redis lost its data) and made them again', registers: [registry] }),
    erased: new Counter({ name: 'request_out_history_records_erased_total', help: 'Records whose personal fields the retention sweep erased', registers: [registry] }),
    deleted: new Counter({ name: 'request_out_history_rows_deleted_total', help: 'History rows deleted by retention', registers: [registry] })
  }
}

/**
 * The history writer role (WORKER_ROLE=history): brings the schema up to date, copies the ticket
 * event streams into PostgreSQL, and runs retention and erasure. Scales out: writers share the
 * streams through one consumer group.
 */
export class HistoryService {
  readonly registry = new Registry()
  readonly #metrics = historyMetrics(this.registry)
  readonly #config: WorkerConfig
  readonly #log: Logger
  readonly #redis
  readonly #monitor: ConnectionMonitor
  readonly #pool
  readonly #store: HistoryStore
  readonly #writer: HistoryWriter
  #migrated = false
  #stopped = false
  #sweeper: NodeJS.Timeout | undefined
  #stopTrimmer: (() => void) | undefined
  #health: { server: Server, port: number } | undefined
  #stopping: Promise<void> | undefined

  constructor (config: WorkerConfig, log: Logger) {
    const { env } = config
    if (env.DATABASE_URL === undefined) throw new ConfigError('WORKER_ROLE=history needs DATABASE_URL (the PostgreSQL of the ticket history)')
    this.#config = config
    this.#log = log
    collectDefaultMetrics({ register: this.registry })
    this.#redis = createRedis(config.redis, 'worker', 'request-out:history')
    this.#monitor = monitorConnection(this.#redis, log, { name: 'history writer', target: describeTarget(config.redis), warnPersistence: config.env.REDIS_PERSISTENCE_WARNING === 'on' })
    this.#pool = createHistoryPool(env.DATABASE_URL, {
      timeoutMs: WRITER_QUERY_TIMEOUT_MS,
      max: 4,
      onIdleError: (err) => log.debug({ err }, 'history database connection lost')
    })
    this.#store = new HistoryStore(this.#pool)
    this.#writer = new HistoryWriter(this.#redis, this.#store, {
      prefix: env.QUEUE_PREFIX,
      batchSize: env.HISTORY_BATCH_SIZE,
      pollMs: env.HISTORY_POLL_MS,
      claimIdleMs: env.HISTORY_CLAIM_IDLE_MS,
      log,
      onBatch: (events, seconds) => {
        this.#metrics.events.inc(events)
        this.#metrics.batchDuration.observe(seconds)
      },
      onFailure: () => this.#metrics.failures.inc(),
      onGroupsLost: () => this.#metrics.groupsRecreated.inc(),
      fieldsOf: (product) => personalFields(config.catalog.get(product))
    })
    const redis = this.#redis
    const prefix = env.QUEUE_PREFIX
    // eslint-disable-next-line no-new -- registered with the registry, read at scrape time
    new Gauge({
      name: 'request_out_history_backlog',
      help: 'Ticket events in Redis not yet stored in history (the intake refuses tickets past HISTORY_BACKLOG_MAX)',
      registers: [this.registry],
      async collect () {
        try { this.set(await historyBacklog(redis, prefix)) } catch { /* Redis away: last value stands */ }
      }
    })
  }

  get healthPort (): number | undefined {
    return this.#health?.port
  }

  async start (): Promise<void> {
    const { env } = this.#config
    this.#health = await startHealthServer(env.WORKER_METRICS_HOST, env.WORKER_METRICS_PORT, {
      registry: this.registry,
      readiness: async () => ({ redis: isRedisReady(this.#redis), history: this.#migrated })
    })
    this.#stopTrimmer = startEventTrimmer(this.#redis, env.QUEUE_PREFIX, eventRetention(env), () => isRedisReady(this.#redis), this.#log)
    this.#log.info({ database: describeDatabase(env.DATABASE_URL ?? ''), healthPort: this.#health.port }, 'history writer started')
    // PostgreSQL may be away at start: the schema is applied once it answers, then the writer runs.
    void this.#migrateThenWrite()
  }

  async #migrateThenWrite (): Promise<void> {
    let told = false
    while (!this.#stopped) {
      try {
        await migrateHistory(this.#config.env.DATABASE_URL ?? '', { info: (m) => this.#log.info(m) })
        this.#migrated = true
        break
      } catch (err) {
        if (!told) this.#log.warn({ err }, 'history database not ready; retrying every 2 s (tickets are still processed, their events wait in Redis)')
        told = true
        await new Promise((resolve) => setTimeout(resolve, 2000))
      }
    }
    if (this.#stopped) return
    this.#writer.start()
    this.#sweeper = setInterval(() => { void this.#sweep() }, SWEEP_INTERVAL_MS)
    this.#sweeper.unref()
    void this.#sweep()
  }

  /** Retention and erasure of personal data; a failure waits for the next round. */
  async #sweep (): Promise<void> {
    const { env, catalog } = this.#config
    try {
      const erased = await this.#store.eraseOlderThan(env.PERSONAL_DATA_RETENTION_DAYS, (product) => personalFields(catalog.get(product)))
      const deleted = await this.#store.deleteExpired(env.HISTORY_RETENTION_DAYS, env.AUDIT_RETENTION_DAYS)
      this.#metrics.erased.inc(erased)
      this.#metrics.deleted.inc(deleted)
      if (erased + deleted > 0) this.#log.info({ erased, deleted }, 'history retention applied')
    } catch (err) {
      this.#log.warn({ err }, 'history retention could not run; trying again in an hour')
    }
  }

  /** Stores (or leaves pending for another writer) the batch in hand, then closes. */
  async stop (): Promise<void> {
    this.#stopping ??= (async () => {
      this.#stopped = true
      clearInterval(this.#sweeper)
      this.#stopTrimmer?.()
      await this.#writer.stop()
      await this.#pool.end().catch(() => {})
      // Closed first: the connection this process closes itself is no outage to warn about.
      this.#monitor.close()
      await closeRedis(this.#redis)
      await closeHealthServer(this.#health?.server)
    })()
    await this.#stopping
  }
}
