import type { FastifyInstance } from 'fastify'
import { Message, type BatchResult } from '@request-out/contracts'
import { HttpProblem, unavailable } from '../http-problem.js'
import type { Principal } from '../plugins/auth.js'
import type { RateDecision } from '../plugins/client-rate.js'
import { batchResult, problemResult, type TicketMetric } from './answer.js'
import type { SubmitContext, SubmitTicket } from './submit.js'
import type { ticketValidation } from './validation.js'

/** Tickets of a batch started in one turn of the event loop. */
const BATCH_CHUNK = 50

/** A batch's answer: one result per ticket in request order, and what a single POST's answer carries besides. */
export interface BatchAnswer {
  results: BatchResult[]
  /** Some ticket was refused for now (429 or 503): the answer carries Retry-After. */
  retryAfter: boolean
  /** The soonest Retry-After of the tickets an open upstream breaker refused (seconds), which the answer carries then. */
  breakerRetryAfter: number | undefined
  /** One per ticket that reached submit(): counted as a single POST's outcome is. */
  metrics: TicketMetric[]
  /** Where the client stands in its rate limit after the batch (the RateLimit fields). */
  rate: RateDecision
}

/**
 * POST of a batch: each ticket answered as a single POST of it would be (validation, entitlement,
 * idempotency, quotas), in request order. The per-client rate limit counts tickets: those past it
 * answer 429. A TicketId repeated in the batch is a re-POST (its entries run in order). The
 * tickets run concurrently, so their Redis commands share round trips.
 */
export function ticketBatches (app: FastifyInstance, submit: SubmitTicket, validation: ReturnType<typeof ticketValidation>) {
  return async function submitBatch (principal: Principal, tickets: Array<Record<string, unknown>>, context: SubmitContext): Promise<BatchAnswer | HttpProblem> {
    if (!app.redis.isReady()) return unavailable()
    const rate = await app.clientRate.take(principal.clientId, tickets.length)
    const results: BatchResult[] = new Array(tickets.length)
    const metrics: TicketMetric[] = []
    let retryAfter = false
    let breakerRetryAfter: number | undefined
    const byTicketId = new Map<string, number[]>()
    tickets.forEach((ticket, i) => {
      const id = typeof ticket.TicketId === 'string' ? ticket.TicketId : `#${i}`
      byTicketId.set(id, [...(byTicketId.get(id) ?? []), i])
    })
    const one = async (i: number): Promise<void> => {
      const item = tickets[i] as Record<string, unknown>
      const TicketId = typeof item.TicketId === 'string' ? item.TicketId : ''
      if (i >= rate.allowed) {
        retryAfter = true
        results[i] = { TicketId, StatusCode: 429, Code: 'RATE_LIMITED', Message: Message.RATE_LIMITED }
        return
      }
      const checked = validation.batchItem(item)
      if ('problem' in checked) {
        results[i] = { TicketId, ...problemResult(checked.problem) }
        return
      }
      let answered
      try {
        answered = await submit(principal, checked.ticket, { ...context, requestId: `${context.requestId}.${i}`, waitSeconds: 0 })
      } catch (err) {
        // One ticket's failure (Redis gone mid-batch) is that ticket's 503, not the batch's.
        context.log.warn({ err, ticketId: TicketId }, 'batch ticket failed')
        retryAfter = true
        results[i] = { TicketId, ...problemResult(unavailable()) }
        return
      }
      if (answered.metric !== undefined) metrics.push(answered.metric)
      if (answered.kind === 'problem' && (answered.problem.statusCode === 429 || answered.problem.statusCode === 503)) retryAfter = true
      // Only the breaker's refusal is a not-available envelope with Retry-After.
      const probeIn = answered.kind === 'envelope' && answered.envelope.Code === 'PRODUCT_NOT_AVAILABLE' ? answered.headers['retry-after'] : undefined
      if (probeIn !== undefined) breakerRetryAfter = Math.min(breakerRetryAfter ?? Infinity, Number(probeIn))
      results[i] = { TicketId, ...batchResult(answered) }
    }
    // Each TicketId's entries in order; different TicketIds at once, started a chunk a turn of the
    // event loop: each chunk's Redis commands leave while the next chunk is validated, so Redis and
    // the intake work side by side. Started all in one turn, the intake checked all 500, then idled
    // while Redis ran 500 claims, then 500 adds.
    const groups = [...byTicketId.values()]
    const running: Array<Promise<void>> = []
    for (let from = 0; from < groups.length; from += BATCH_CHUNK) {
      if (from > 0) await new Promise((resolve) => setImmediate(resolve))
      for (const indexes of groups.slice(from, from + BATCH_CHUNK)) {
        const entries = (async () => { for (const i of indexes) await one(i) })()
        // Awaited below, after the chunks still to start: a failure meanwhile is not an unhandled rejection.
        entries.catch(() => {})
        running.push(entries)
      }
    }
    await Promise.all(running)
    return { results, retryAfter, breakerRetryAfter, metrics, rate }
  }
}
