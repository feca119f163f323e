import type { Logger } from 'pino'
import type { RedisClient } from '@request-out/redis-connection'
import { trimEventStreams } from '@request-out/record-store'

// Any worker trims; the work is idempotent, so several doing it at once is harmless.
const EVENT_TRIM_INTERVAL_MS = 60_000

/**
 * Keeps the ticket event streams as short as their consumers allow (`retentionMs` of events while
 * nobody consumes them), once a minute. A failure is logged once, and the next round tries again.
 * Returns the function that stops it.
 */
export function startEventTrimmer (redis: RedisClient, prefix: string, retentionMs: number, ready: () => boolean, log: Logger): () => void {
  let failing = false
  const timer = setInterval(() => {
    if (!ready()) return
    trimEventStreams(redis, prefix, retentionMs).then(() => { failing = false }, (err: unknown) => {
      if (!failing) log.warn({ err }, 'could not trim the ticket event streams; trying again every minute')
      failing = true
    })
  }, EVENT_TRIM_INTERVAL_MS)
  timer.unref()
  return () => clearInterval(timer)
}
