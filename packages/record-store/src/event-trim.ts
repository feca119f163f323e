import type { Cluster, Redis } from 'ioredis'
import { allTicketEvents, redisKeys } from '@request-out/redis-keys'

const pairs = (flat: unknown[]): Record<string, unknown> => {
  const out: Record<string, unknown> = {}
  for (let i = 0; i + 1 < flat.length; i += 2) out[String(flat[i])] = flat[i + 1]
  return out
}

/** Orders stream entry ids (`<ms>-<seq>`). */
function compareStreamIds (a: string, b: string): number {
  const [am = 0, as = 0] = a.split('-').map(Number)
  const [bm = 0, bs = 0] = b.split('-').map(Number)
  return am === bm ? as - bs : am - bm
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

/**
 * Trims each group's stream to what its consumers still need: entries before the oldest one any
 * consumer group has not read (or not acknowledged) go. A stream nobody consumes keeps
 * `retentionMs` of events. Safe to run from every worker at once. Resolves how many went.
 */
export async function trimEventStreams (redis: Redis | Cluster, prefix: string, retentionMs: number): Promise<number> {
  let removed = 0
  for (const stream of allTicketEvents(redisKeys(prefix))) {
    const keep = await oldestNeeded(redis, stream, Date.now() - retentionMs)
    if (keep !== undefined) removed += Number(await redis.xtrim(stream, 'MINID', keep))
  }
  return removed
}
