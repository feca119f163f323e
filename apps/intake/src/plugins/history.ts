import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { BadCursorError, HistoryStore, createHistoryPool, historyBacklog } from '@request-out/history'
import { HttpProblem, unavailable } from '../http-problem.js'

declare module 'fastify' {
  interface FastifyInstance {
    history: IntakeHistory
  }
}

interface IntakeHistory {
  /** The PostgreSQL history, or undefined when DATABASE_URL is unset (history off). */
  store: HistoryStore | undefined
  /** True while the streams hold more events not yet in history than HISTORY_BACKLOG_MAX. */
  behind: () => boolean
  /** A read of the history: history off, PostgreSQL away or without its schema is a 503, a cursor it did not write a 400, never an empty answer. */
  read: <T>(query: (history: HistoryStore) => Promise<T>) => Promise<T>
}

/** How often the backlog is read: one XINFO per stream, off the request path. */
const BACKLOG_POLL_MS = 2000

/**
 * The intake's view of the ticket history: reads (a ticket Redis no longer holds, search, audit)
 * with every wait bounded by HISTORY_QUERY_TIMEOUT_MS, and the backlog guard that refuses tickets
 * rather than let history fall silently behind. The intake writes nothing to PostgreSQL: writes
 * travel the ticket event streams to the history writers.
 */
async function historyPlugin (app: FastifyInstance): Promise<void> {
  const { env } = app.config
  let store: HistoryStore | undefined
  if (env.DATABASE_URL !== undefined) {
    const pool = createHistoryPool(env.DATABASE_URL, {
      timeoutMs: env.HISTORY_QUERY_TIMEOUT_MS,
      onIdleError: (err) => app.log.debug({ err }, 'history database connection lost')
    })
    store = new HistoryStore(pool)
    app.addHook('onClose', async () => { await pool.end().catch(() => {}) })
  }

  let backlog = 0
  let failing = false
  const readBacklog = async (): Promise<void> => {
    if (!app.redis.isReady()) return
    try {
      const wasBehind = backlog > env.HISTORY_BACKLOG_MAX
      backlog = await historyBacklog(app.redis.producer, env.QUEUE_PREFIX)
      app.metrics.historyBacklog.set(backlog)
      const isBehind = backlog > env.HISTORY_BACKLOG_MAX
      if (isBehind && !wasBehind) app.log.warn({ backlog, max: env.HISTORY_BACKLOG_MAX }, 'history is behind: refusing new tickets until the writers catch up')
      if (!isBehind && wasBehind) app.log.info({ backlog }, 'history caught up: accepting tickets again')
      failing = false
    } catch (err) {
      if (!failing) app.log.warn({ err }, 'could not read the history backlog; keeping the last value')
      failing = true
    }
  }
  const timer = setInterval(() => { void readBacklog() }, BACKLOG_POLL_MS)
  timer.unref()
  app.addHook('onReady', readBacklog)
  app.addHook('onClose', async () => clearInterval(timer))

  async function read<T> (query: (history: HistoryStore) => Promise<T>): Promise<T> {
    if (store === undefined) throw unavailable('Ticket history is off on this intake (DATABASE_URL is not set)')
    try {
      return await query(store)
    } catch (err) {
      if (err instanceof BadCursorError) throw new HttpProblem('VALIDATION_ERROR', err.message, {}, [{ Field: err.field, Message: err.message }])
      // 42P01: no such table. The database answers, but no history writer has applied the schema yet.
      if ((err as { code?: unknown }).code === '42P01') {
        app.log.warn({ err }, 'ticket history has no schema yet')
        throw unavailable('Ticket history has no schema yet: run a history writer (WORKER_ROLE=history), which applies it')
      }
      app.log.warn({ err }, 'ticket history not reachable')
      throw unavailable('Ticket history is not reachable; retry later')
    }
  }

  app.decorate('history', { store, behind: () => backlog > env.HISTORY_BACKLOG_MAX, read })
}

export default fp(historyPlugin, { name: 'history', dependencies: ['config', 'redis', 'metrics'], fastify: '5.x' })
