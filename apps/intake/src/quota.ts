import type { RedisClient } from '@request-out/redis-connection'
import { redisKeys } from '@request-out/redis-keys'
import { takeQuotaScript } from './scripts/take-quota.js'

/** Where a client stands in its quota window (also what the RateLimit fields tell). */
export interface QuotaState {
  limit: number
  remaining: number
  /** Seconds until the window ends. */
  resetSeconds: number
  windowSeconds: number
  /** False when this ticket is over the quota (refused, and not counted). */
  allowed: boolean
}

/** Fixed windows aligned to the epoch, so every intake agrees on where one ends. */
function windowKey (prefix: string, clientId: string, perSeconds: number): { key: string, untilEndMs: number } {
  const windowMs = perSeconds * 1000
  const now = Date.now()
  const index = Math.floor(now / windowMs)
  return { key: redisKeys(prefix).quota(clientId, perSeconds, index), untilEndMs: (index + 1) * windowMs - now }
}

/** Defines the quota script on a connection, at set-up. */
export function defineQuotaCommands (redis: RedisClient): void {
  takeQuotaScript.define(redis)
}

/** Counts one ticket against the client's quota, or says it is over (`defineQuotaCommands` first). */
export async function takeQuota (redis: RedisClient, prefix: string, clientId: string, quota: { tickets: number, perSeconds: number }): Promise<QuotaState> {
  const { key, untilEndMs } = windowKey(prefix, clientId, quota.perSeconds)
  const { allowed, used } = await takeQuotaScript.run(redis, { counter: key }, { limit: quota.tickets, untilEndMs })
  return { limit: quota.tickets, remaining: Math.max(0, quota.tickets - used), resetSeconds: Math.max(1, Math.ceil(untilEndMs / 1000)), windowSeconds: quota.perSeconds, allowed }
}

/** Gives back a ticket counted by `takeQuota` that turned out not to be new (a repeated POST). */
export async function returnQuota (redis: RedisClient, prefix: string, clientId: string, quota: { tickets: number, perSeconds: number }): Promise<void> {
  await redis.decr(windowKey(prefix, clientId, quota.perSeconds).key)
}
