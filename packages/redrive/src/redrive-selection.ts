import type { RedriveFilter, RedriveSample } from '@request-out/contracts'
import { retryPolicy } from '@request-out/product-catalog'
import { TicketField } from '@request-out/record-store'
import type { RedisClient } from '@request-out/redis-connection'
import { parseTicketKey, redisKeys } from '@request-out/redis-keys'

/** A selected ticket as a redrive's list holds it: client, TicketId, product, the acceptance (epoch ms). */
export interface RedriveEntry { c: string, t: string, p: string, a: number }

/** Failed jobs read per round trip: a selection of 10,000 never holds Redis for long. */
const PAGE = 500
const DAY_MS = 86_400_000

export const sampleOf = (e: RedriveEntry): RedriveSample => ({ ClientId: e.c, TicketId: e.t, Product: e.p, AcceptedAt: new Date(e.a).toISOString() })

/**
 * Every ticket of `products` whose final code is PRODUCT_FAILED and that matches `filter` (its
 * acceptance no older than `maxAgeDays`), page by page to `onPage`. It reads BullMQ's failed jobs
 * (a rejection's job fails too: the ticket's own code tells them apart) and the ticket's hash, so
 * only tickets whose job, and with it the input, is still kept (JOBS_KEEP_FAILED_SECONDS) are
 * found. Resolves how many.
 */
export async function selectFailed (redis: RedisClient, prefix: string, products: readonly string[], filter: RedriveFilter, maxAgeDays: number,
  onPage: (entries: RedriveEntry[]) => Promise<void>): Promise<number> {
  const keys = redisKeys(prefix)
  const since = Math.max(filter.From === undefined ? 0 : Date.parse(filter.From), Date.now() - maxAgeDays * DAY_MS)
  const until = filter.To === undefined ? Infinity : Date.parse(filter.To)
  const seen = new Set<string>()
  let selected = 0
  for (const product of products) {
    for (let start = 0; ; start += PAGE) {
      const ids = await redis.zrange(keys.failed(product), start, start + PAGE - 1)
      if (ids.length === 0) break
      const tickets = ids.flatMap((id) => {
        const t = parseTicketKey(id)
        if (t === undefined || seen.has(id) || (filter.ClientId !== undefined && t.clientId !== filter.ClientId)) return []
        seen.add(id)
        return [t]
      })
      const states = await Promise.all(tickets.map(async (t) => await redis.hmget(keys.ticket(t.clientId, t.ticketId), TicketField.code, TicketField.acceptedAt)))
      const entries = tickets.flatMap((t, i): RedriveEntry[] => {
        const [code, at] = states[i] ?? []
        const acceptedAt = Number(at)
        if (code !== retryPolicy.exhaustedCode || !(acceptedAt >= since && acceptedAt < until)) return []
        return [{ c: t.clientId, t: t.ticketId, p: product, a: acceptedAt }]
      })
      selected += entries.length
      if (entries.length > 0) await onPage(entries)
      if (ids.length < PAGE) break
    }
  }
  return selected
}
