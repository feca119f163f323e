import type { RedisClient } from './connections.js'

/**
 * Defines a Lua script as a command of this connection, once. Call it when the connection is set
 * up, never on first use: an ioredis pipeline knows only the scripts defined before it was made,
 * so a first call of a newer one inside an auto-pipeline breaks that whole pipeline (an uncaught
 * 'results[i] is not iterable').
 */
export function defineScript (redis: RedisClient, name: string, numberOfKeys: number, lua: string): void {
  if (!(name in redis)) redis.defineCommand(name, { numberOfKeys, lua })
}
