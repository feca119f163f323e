import type { Cluster, Redis } from 'ioredis'
import { allTicketEvents, redisKeys } from '@request-out/redis-keys'
import { fieldOf } from './ticket-events.js'

/**
 * Events a consumer group has not handled yet, over every stream: those not yet read (the group's
 * lag) plus those read but not acknowledged. A stream without the group (no consumer has run yet,
 * or Redis lost its data and the groups with it) counts whole: nobody is reading it.
 */
export async function consumerBacklog (redis: Redis | Cluster, prefix: string, groupName: string): Promise<number> {
  const counts = await Promise.all(allTicketEvents(redisKeys(prefix)).map(async (stream) => {
    let groups: unknown[]
    try {
      groups = await redis.xinfo('GROUPS', stream) as unknown[]
    } catch {
      return 0 // no such stream yet
    }
    const group = groups.map((g) => g as unknown[]).find((g) => fieldOf(g, 'name') === groupName)
    if (group === undefined) return Number(await redis.xlen(stream))
    const pending = Number(fieldOf(group, 'pending') ?? 0)
    const lag = fieldOf(group, 'lag')
    // Redis cannot always tell the lag (it answers nil): count the whole stream then, an upper bound.
    const unread = lag === null || lag === undefined ? Number(await redis.xlen(stream)) - pending : Number(lag)
    return pending + Math.max(0, unread)
  }))
  return counts.reduce((a, b) => a + b, 0)
}
