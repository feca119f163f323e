import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { HistoryStore, createHistoryPool, historyBacklog } from '@request-out/history'

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

  app.decorate('history', { store, behind: () => backlog > env.HISTORY_BACKLOG_MAX })
}

export default fp(historyPlugin, { name: 'history', dependencies: ['config', 'redis', 'metrics'], fastify: '5.x' })
