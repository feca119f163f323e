import type { Logger } from 'pino'
import type { RedisClient } from '@request-out/redis-connection'
import { trimEventStreams, type EventRetention } from '@request-out/record-store'

// Any worker trims; the work is idempotent, so several doing it at once is harmless.
const EVENT_TRIM_INTERVAL_MS = 60_000

/**
 * Keeps the ticket event streams as short as their consumers and the event retention allow, once a
 * minute. A failure is logged once, and the next round tries again.
 * Returns the function that stops it.
 */
export function startEventTrimmer (redis: RedisClient, prefix: string, retention: EventRetention, ready: () => boolean, log: Logger): () => void {
  let failing = false
  const timer = setInterval(() => {
    if (!ready()) return
    trimEventStreams(redis, prefix, retention).then(() => { failing = false }, (err: unknown) => {
      if (!failing) log.warn({ err }, 'could not trim the ticket event streams; trying again every minute')
      failing = true
    })
  }, EVENT_TRIM_INTERVAL_MS)
  timer.unref()
  return () => clearInterval(timer)
}

/** What the settings keep of the event streams. */
export function eventRetention (env: { RECORD_TTL_SECONDS: number, EVENT_STREAM_RETENTION_SECONDS: number }): EventRetention {
  return { unconsumedMs: env.RECORD_TTL_SECONDS * 1000, keepMs: env.EVENT_STREAM_RETENTION_SECONDS * 1000 }
}
