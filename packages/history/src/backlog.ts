import type { Cluster, Redis } from 'ioredis'
import { consumerBacklog } from '@request-out/record-store'

/** The consumer group of the history writers on every ticket event stream. */
export const HISTORY_GROUP = 'history'

/** Events the history writers have not stored yet (0 while no writer ever ran: history off). */
export async function historyBacklog (redis: Redis | Cluster, prefix: string): Promise<number> {
  return await consumerBacklog(redis, prefix, HISTORY_GROUP)
}
