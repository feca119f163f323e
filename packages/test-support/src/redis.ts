import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import { redisKeys } from '@request-out/redis-keys'

/** The Redis the test run uses (`npm test` sets REDIS_URL to the one it found or started). */
export const TEST_REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'

/** A key prefix no other test (or run) shares. */
export function uniquePrefix (label = 't'): string {
  return `rotest-${label}-${randomBytes(4).toString('hex')}`
}

/** Deletes every key under `prefix:` (SCAN, never KEYS), then closes the connection. */
export async function deleteKeys (prefix: string, url = TEST_REDIS_URL): Promise<number> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 })
  let deleted = 0
  try {
    await redis.connect()
    let cursor = '0'
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', redisKeys(prefix).all, 'COUNT', 1000)
      cursor = next
      if (keys.length > 0) deleted += await redis.del(...keys)
    } while (cursor !== '0')
  } finally {
    redis.disconnect()
  }
  return deleted
}

export { freePort, hasRedisServer, startPrivateRedis } from '@request-out/local-services'
