import type { Cluster, Redis } from 'ioredis'
import { allTicketEvents, redisKeys } from '@request-out/redis-keys'
import { compareStreamIds } from './event-id.js'
import { trimEventsScript } from './scripts/trim-events.js'

const pairs = (flat: unknown[]): Record<string, unknown> => {
  const out: Record<string, unknown> = {}
  for (let i = 0; i + 1 < flat.length; i += 2) out[String(flat[i])] = flat[i + 1]
  return out
}

/** The oldest entry of a stream any consumer group has not read or not acknowledged; undefined when there is no stream. */
async function oldestNeeded (redis: Redis | Cluster, stream: string, fallbackMs: number): Promise<string | undefined> {
  let groups: unknown[]
  try {
    groups = await redis.xinfo('GROUPS', stream) as unknown[]
  } catch {
    return undefined // no such stream yet
  }
  if (groups.length === 0) return `${fallbackMs}-0`
  let oldest: string | undefined
  for (const raw of groups) {
    const info = pairs(raw as unknown[])
    const name = String(info.name)
    const pending = Number(info.pending ?? 0)
    let needed = String(info['last-delivered-id'] ?? '0-0')
    if (pending > 0) {
      const summary = await redis.xpending(stream, name) as unknown[]
      needed = String(summary[1] ?? needed)
    }
    if (oldest === undefined || compareStreamIds(needed, oldest) < 0) oldest = needed
  }
  return oldest
}

export interface EventRetention {
  /** How long a stream nobody consumes keeps its events. */
  unconsumedMs: number
  /** How long every event is kept whatever the consumer groups have read: event streams resume from it. */
  keepMs: number
}

/**
 * Trims each group's stream to what its consumers still need and clients may still resume from:
 * entries go once they are older than `keepMs` and every consumer group has read and
 * acknowledged them. A stream nobody consumes keeps `unconsumedMs` of events. Safe to run from
 * every worker at once. Resolves how many went.
 */
export async function trimEventStreams (redis: Redis | Cluster, prefix: string, retention: EventRetention): Promise<number> {
  trimEventsScript.define(redis)
  let removed = 0
  for (const stream of allTicketEvents(redisKeys(prefix))) {
    const now = Date.now()
    const needed = await oldestNeeded(redis, stream, now - retention.unconsumedMs)
    if (needed === undefined) continue
    const kept = `${Math.max(0, now - retention.keepMs)}-0`
    removed += await trimEventsScript.run(redis, { events: stream }, { minId: compareStreamIds(needed, kept) < 0 ? needed : kept })
  }
  return removed
}
