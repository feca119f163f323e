import type { RedisClient } from './connections.js'

async function configValue (client: RedisClient, parameter: string): Promise<string | undefined> {
  try {
    const reply = (await client.call('CONFIG', 'GET', parameter)) as unknown
    if (Array.isArray(reply) && typeof reply[1] === 'string') return reply[1]
    return undefined
  } catch {
    return undefined
  }
}

/**
 * BullMQ keeps jobs and locks as ordinary keys: a Redis that evicts under memory pressure can
 * silently drop queued tickets or locks, so only `noeviction` is safe.
 * Returns the policy, or undefined when the server refuses CONFIG (common on managed Redis).
 */
export async function readEvictionPolicy (client: RedisClient): Promise<string | undefined> {
  return configValue(client, 'maxmemory-policy')
}

/** Whether the append-only file is on; undefined when the server refuses CONFIG. */
export async function readPersistence (client: RedisClient): Promise<{ aof: boolean } | undefined> {
  const appendonly = await configValue(client, 'appendonly')
  return appendonly === undefined ? undefined : { aof: appendonly === 'yes' }
}

export const EVICTION_WARNING =
  'Redis maxmemory-policy is not "noeviction": under memory pressure Redis may evict queued jobs, ' +
  'locks or records and tickets would be lost. Set maxmemory-policy noeviction.'

export const PERSISTENCE_WARNING =
  'Redis runs without AOF (appendonly no): a Redis restart loses every queued ticket and record since ' +
  'the last snapshot. Set appendonly yes (appendfsync everysec) in production.'
