import type { RedisClient } from './connections.js'

/**
 * BullMQ keeps jobs and locks as ordinary keys: a Redis that evicts under memory pressure can
 * silently drop queued tickets or locks, so only `noeviction` is safe.
 * Returns the policy, or undefined when the server refuses CONFIG (common on managed Redis).
 */
export async function readEvictionPolicy (client: RedisClient): Promise<string | undefined> {
  try {
    const reply = (await client.call('CONFIG', 'GET', 'maxmemory-policy')) as unknown
    if (Array.isArray(reply) && typeof reply[1] === 'string') return reply[1]
    return undefined
  } catch {
    return undefined
  }
}

export const EVICTION_WARNING =
  'Redis maxmemory-policy is not "noeviction": under memory pressure Redis may evict queued jobs, ' +
  'locks or records and tickets would be lost. Set maxmemory-policy noeviction.'
