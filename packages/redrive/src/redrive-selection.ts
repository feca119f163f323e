import { parseProductKey, type RedriveFilter, type RedriveSample } from '@request-out/contracts'
import type { FailedCursor, HistoryStore } from '@request-out/history'
import { retryPolicy } from '@request-out/product-catalog'
import { TicketField, type FingerprintedTicket, type KeptInput } from '@request-out/record-store'
import type { RedisClient } from '@request-out/redis-connection'
import { parseTicketKey, redisKeys, ticketKey } from '@request-out/redis-keys'

/**
 * A selected ticket as a redrive's list holds it: client, TicketId, product, the acceptance (epoch
 * ms); `s` says why it is skipped when the selection knew already (the history: erased, accepted again).
 */
export interface RedriveEntry { c: string, t: string, p: string, a: number, s?: string }

/** What a redrive keeps of a ticket selected from history, for when Redis forgot it: its input and that input's fingerprint. */
export interface KeptForRedrive { i: KeptInput, f: string }

/** One page of a selection; `kept` by ticket key. */
export interface SelectedPage { entries: RedriveEntry[], kept: Map<string, KeptForRedrive> }

/** Where a selection reads from when history is on: the history store. */
export type FailedTicketSource = Pick<HistoryStore, 'failedTickets'>

/** Failed tickets read per round trip: a selection of 10,000 never holds Redis or PostgreSQL for long. */
const PAGE = 500
const DAY_MS = 86_400_000

export const sampleOf = (e: RedriveEntry): RedriveSample => ({ ClientId: e.c, TicketId: e.t, Product: e.p, AcceptedAt: new Date(e.a).toISOString() })

/** The acceptance times a filter spans: from its From (never past REDRIVE_MAX_AGE_DAYS) to its To. */
function acceptedBetween (filter: RedriveFilter, maxAgeDays: number): { since: number, until: number } {
  return {
    since: Math.max(filter.From === undefined ? 0 : Date.parse(filter.From), Date.now() - maxAgeDays * DAY_MS),
    until: filter.To === undefined ? Infinity : Date.parse(filter.To)
  }
}

/**
 * Every ticket of `products` whose final code is PRODUCT_FAILED and that matches `filter`, page
 * by page to `onPage`, from Redis: BullMQ's failed jobs (a rejection's job fails too: the ticket's
 * own code tells them apart) and the ticket's hash, so only tickets whose job, and with it the
 * input, is still kept (JOBS_KEEP_FAILED_SECONDS) are found. Resolves how many.
 */
export async function selectFailed (redis: RedisClient, prefix: string, products: readonly string[], filter: RedriveFilter, maxAgeDays: number,
  onPage: (page: SelectedPage) => Promise<void>): Promise<number> {
  const keys = redisKeys(prefix)
  const { since, until } = acceptedBetween(filter, maxAgeDays)
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
      if (entries.length > 0) await onPage({ entries, kept: new Map() })
      if (ids.length < PAGE) break
    }
  }
  return selected
}

/**
 * The same from the history, which holds every ticket also after Redis forgot it: each with the
 * input the history kept and its fingerprint (`fingerprintOf`, the intake's TICKET_FINGERPRINT_KEY),
 * so a runner can make a forgotten ticket again as that acceptance left it. A ticket whose input
 * was erased, or whose TicketId was accepted again since, is selected as skipped. Resolves how many.
 */
export async function selectFailedFromHistory (history: FailedTicketSource, fingerprintOf: (ticket: FingerprintedTicket) => string,
  products: readonly string[], filter: RedriveFilter, maxAgeDays: number, onPage: (page: SelectedPage) => Promise<void>): Promise<number> {
  const { since, until } = acceptedBetween(filter, maxAgeDays)
  let selected = 0
  let after: FailedCursor | undefined
  do {
    const { tickets, next } = await history.failedTickets({ products, clientId: filter.ClientId, since, until }, after, PAGE)
    const page: SelectedPage = { entries: [], kept: new Map() }
    for (const t of tickets) {
      const skip = t.erased ? 'its input\'s personal data was erased' : t.newer ? 'its TicketId was accepted again since' : undefined
      page.entries.push({ c: t.clientId, t: t.ticketId, p: t.product, a: t.acceptedAt, ...(skip === undefined ? {} : { s: skip }) })
      const ref = parseProductKey(t.product)
      if (skip === undefined && t.input !== undefined && ref !== undefined) {
        page.kept.set(ticketKey(t.clientId, t.ticketId), { i: t.input, f: fingerprintOf({ ...ref, Data: t.input.Data }) })
      }
    }
    selected += page.entries.length
    if (page.entries.length > 0) await onPage(page)
    after = next
  } while (after !== undefined)
  return selected
}
