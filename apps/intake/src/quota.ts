import { defineScript, type RedisClient } from '@request-out/redis-connection'

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

// One counter per client and window, shared by every intake. A ticket over the quota is not
// counted (the counter is given back), so a refused burst does not push the reset further away.
// KEYS[1] the window's counter; ARGV: limit, ms until the window ends (the counter outlives it a little).
const TAKE = `
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) + 1000) end
if n > tonumber(ARGV[1]) then
  redis.call('DECR', KEYS[1])
  return {0, n - 1}
end
return {1, n}
`

interface QuotaCommands {
  roTakeQuota: (key: string, limit: string, untilEndMs: string) => Promise<[number, number]>
}

/** Fixed windows aligned to the epoch, so every intake agrees on where one ends. */
function windowKey (prefix: string, clientId: string, perSeconds: number): { key: string, untilEndMs: number } {
  const windowMs = perSeconds * 1000
  const now = Date.now()
  const index = Math.floor(now / windowMs)
  return { key: `${prefix}:quota:${Buffer.from(clientId).toString('base64url')}:${perSeconds}:${index}`, untilEndMs: (index + 1) * windowMs - now }
}

/** Defines the quota script on a connection (`defineScript`), at set-up. */
export function defineQuotaCommands (redis: RedisClient): void {
  defineScript(redis, 'roTakeQuota', 1, TAKE)
}

/** Counts one ticket against the client's quota, or says it is over (`defineQuotaCommands` first). */
export async function takeQuota (redis: RedisClient, prefix: string, clientId: string, quota: { tickets: number, perSeconds: number }): Promise<QuotaState> {
  const { key, untilEndMs } = windowKey(prefix, clientId, quota.perSeconds)
  const [allowed, used] = await (redis as RedisClient & QuotaCommands).roTakeQuota(key, String(quota.tickets), String(untilEndMs))
  return { limit: quota.tickets, remaining: Math.max(0, quota.tickets - used), resetSeconds: Math.max(1, Math.ceil(untilEndMs / 1000)), windowSeconds: quota.perSeconds, allowed: allowed === 1 }
}

/** Gives back a ticket counted by `takeQuota` that turned out not to be new (a repeated POST). */
export async function returnQuota (redis: RedisClient, prefix: string, clientId: string, quota: { tickets: number, perSeconds: number }): Promise<void> {
  await redis.decr(windowKey(prefix, clientId, quota.perSeconds).key)
}
