import type { Cluster, Redis } from 'ioredis'
import { ticketEventStreams } from '@request-out/record-store'

/** The consumer group of the history writers on every ticket event stream. */
export const HISTORY_GROUP = 'history'

const field = (flat: unknown[], name: string): unknown => {
  for (let i = 0; i + 1 < flat.length; i += 2) if (flat[i] === name) return flat[i + 1]
  return undefined
}

/**
 * Events the history writers have not stored yet, over every stream: those not yet read (the
 * group's lag) plus those read but not acknowledged. 0 while no writer has ever run (no group):
 * history is off then, and nothing waits for it.
 */
export async function historyBacklog (redis: Redis | Cluster, prefix: string): Promise<number> {
  const counts = await Promise.all(ticketEventStreams(prefix).map(async (stream) => {
    let groups: unknown[]
    try {
      groups = await redis.xinfo('GROUPS', stream) as unknown[]
    } catch {
      return 0 // no such stream yet
    }
    const group = groups.map((g) => g as unknown[]).find((g) => field(g, 'name') === HISTORY_GROUP)
    if (group === undefined) return 0
    const pending = Number(field(group, 'pending') ?? 0)
    const lag = field(group, 'lag')
    // Redis cannot always tell the lag (it answers nil): count the whole stream then, an upper bound.
    const unread = lag === null || lag === undefined ? Number(await redis.xlen(stream)) - pending : Number(lag)
    return pending + Math.max(0, unread)
  }))
  return counts.reduce((a, b) => a + b, 0)
}
