import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import {
  Message, acceptedEnvelope, cancellingEnvelope, failedEnvelope, notReadyEnvelope, productKey, type TicketRequest
} from '@request-out/contracts'
import type { Product } from '@request-out/product-catalog'
import { TicketFingerprints, type ExistingTicket } from '@request-out/record-store'
import { ticketKey } from '@request-out/redis-keys'
import { activeTraceId } from '@request-out/tracing'
import { HttpProblem, RETRY_AFTER_SECONDS, unavailable } from '../http-problem.js'
import { mayUseProduct, type Principal } from '../plugins/auth.js'
import { admit, type Admission } from './admission.js'
import { answer, refusal, ticketLocation, type TicketAnswer } from './answer.js'
import type { BreakerRefusal } from '../plugins/upstream-breakers.js'
import type { TicketReads } from './read.js'
import type { ticketValidation } from './validation.js'

export interface SubmitContext {
  requestId: string
  /** Seconds of `Prefer: wait=N`; 0 answers at once. */
  waitSeconds: number
  log: FastifyBaseLogger
  /** Puts an accepted ticket's fields on the request's access line (else they get a line of their own). */
  annotate?: (fields: Record<string, unknown>) => void
}

/** Why a product is not available now: an admin's switch, or its upstream breaker. */
const UNAVAILABLE_REASON_HEADER = 'product-unavailable-reason'

/** Free text as a header value: at most 200 characters, UTF-8 percent-encoded past printable ASCII (and `%`), so decodeURIComponent() gives it back. */
const headerText = (text: string): string => text.slice(0, 200).replace(/[^\x20-\x24\x26-\x7e]/gu, (c) => encodeURIComponent(c))

/** A POST's decisions: who may submit what, whether the product and Redis can take it, idempotency (the claim), the enqueue. */
export function ticketSubmission (app: FastifyInstance, reads: TicketReads, validation: ReturnType<typeof ticketValidation>) {
  const { catalog, fingerprintKeys, benchOff } = app.config
  // The bench's cost table (BENCH_INTAKE_OFF): steps it switched off. Never in production.
  const skip = {
    validation: benchOff.has('validation'),
    claim: benchOff.has('claim'),
    breaker: benchOff.has('breaker'),
    backlog: benchOff.has('history-backlog')
  }
  const { recordStore, recordWaiter } = app
  const fingerprints = new TicketFingerprints(fingerprintKeys.current, fingerprintKeys.previous)

  /**
   * A re-POST of a ticket already there: 409 with other fields, else its record, its cancellation
   * under way (its job must not come back), or accepted while it waits for its record.
   */
  const repeated = (ticket: TicketRequest, key: string, known: ExistingTicket): TicketAnswer => {
    if (!known.sameFields) return answer(failedEnvelope(ticket, 'TICKET_CONFLICT', Message.TICKET_CONFLICT), key, 'TICKET_CONFLICT')
    if (known.record !== undefined) return answer(known.record, key, 'duplicate')
    if (known.cancelRequested) return answer(cancellingEnvelope(ticket), key, 'duplicate')
    return answer(acceptedEnvelope(ticket), key, 'duplicate', { location: ticketLocation(ticket.TicketId), 'retry-after': RETRY_AFTER_SECONDS })
  }

  /** The seed's not-available envelope, byte for byte; why goes in a header (only to a client entitled to the product). */
  const notAvailable = (metricProduct: string, reason: string | undefined, headers: Record<string, string> = {}): TicketAnswer =>
    answer(notReadyEnvelope('PRODUCT_NOT_AVAILABLE'), metricProduct, 'PRODUCT_NOT_AVAILABLE', reason === undefined ? headers : { ...headers, [UNAVAILABLE_REASON_HEADER]: headerText(reason) })

  /**
   * While the product's upstream breaker refuses: a ticket already accepted answers its state as
   * it would without the breaker; a new one is refused, with Retry-After to the next probe.
   */
  async function refusedWhileDown (principal: Principal, ticket: TicketRequest, key: string, down: BreakerRefusal, fields: Record<string, unknown>, context: SubmitContext): Promise<TicketAnswer> {
    const known = await recordStore.existing(principal.clientId, ticket.TicketId, fingerprints.of(ticket))
    if (known !== undefined) return repeated(ticket, key, known)
    context.log.info({ ...fields, code: 'PRODUCT_NOT_AVAILABLE', retryAfter: down.retryAfterSeconds }, 'ticket refused: the product\'s upstream breaker is open')
    return notAvailable(key, down.reason, { 'retry-after': String(down.retryAfterSeconds) })
  }

  /** Takes a place in the product's queue, claims the ticket and enqueues its job (or answers what is known of it). */
  async function queueTicket (admission: Admission, principal: Principal, ticket: TicketRequest, product: Product, fields: Record<string, unknown>, context: SubmitContext): Promise<TicketAnswer> {
    const key = product.key
    if (!admission.takePlace()) {
      context.log.warn({ ...fields, backlog: app.ticketQueues.backlog(key) }, 'ticket refused: queue over MAX_QUEUE_DEPTH')
      return refusal(unavailable('The product queue is full; retry later'), key)
    }
    // Registered before anything is written, so a record stored in between is not missed.
    const wait = context.waitSeconds > 0 ? recordWaiter.waitFor(ticketKey(principal.clientId, ticket.TicketId), context.waitSeconds * 1000) : undefined
    try {
      // Fair sharing's turn is taken beside the claim: one round trip for both.
      admission.takeTurn()
      const claim = skip.claim
        ? { outcome: 'claimed' as const, acceptedAt: Date.now() }
        : await recordStore.claim(principal.clientId, ticket.TicketId, fingerprints.of(ticket), key, context.requestId, activeTraceId())
      if (claim.outcome === 'existing' && (!claim.sameFields || claim.record !== undefined || claim.cancelRequested)) {
        if (!claim.sameFields) context.log.info({ ...fields, code: 'TICKET_CONFLICT' }, 'ticket refused: TicketId reused with other fields')
        return repeated(ticket, key, claim)
      }
      // Also for a ticket already claimed but without a record: the add is idempotent by job id,
      // and it re-creates the job if an earlier attempt claimed the ticket but never reached the queue.
      await admission.enqueue({
        TicketId: ticket.TicketId,
        Subject: ticket.Subject,
        SubjectType: ticket.SubjectType,
        SubjectIdentifier: ticket.SubjectIdentifier,
        ...(ticket.Data === undefined ? {} : { Data: ticket.Data }),
        ClientId: principal.clientId,
        RequestId: context.requestId,
        AcceptedAt: Date.now(),
        ClaimedAt: claim.acceptedAt
      }, claim.outcome === 'claimed')
      const outcome = claim.outcome === 'claimed' ? 'accepted' : 'duplicate'
      if (context.annotate !== undefined) context.annotate({ ...fields, outcome })
      else context.log.info({ ...fields, outcome }, 'ticket queued')
      const location = { location: ticketLocation(ticket.TicketId) }
      if (wait === undefined) return answer(acceptedEnvelope(ticket), key, outcome, { ...location, 'retry-after': RETRY_AFTER_SECONDS })
      const current = await reads.current(principal.clientId, ticket.TicketId, wait)
      if (current instanceof HttpProblem) return refusal(current, key)
      return answer(current, key, outcome, { ...location, 'preference-applied': `wait=${context.waitSeconds}` })
    } finally {
      wait?.cancel()
    }
  }

  /** POST: checks, claims and enqueues a ticket, or answers what is already known of it. */
  return async function submit (principal: Principal, ticket: TicketRequest, context: SubmitContext): Promise<TicketAnswer> {
    const key = productKey(ticket)
    const product = catalog.get(key)
    const metricProduct = product === undefined ? 'unknown' : key
    // attempt 0: at the intake, before any try. The same fields as every worker line about the ticket.
    // Passed per line rather than through log.child(): a child logger per request cost 4 % of the CPU.
    const fields = { ticketId: ticket.TicketId, clientId: principal.clientId, product: key, jobId: ticketKey(principal.clientId, ticket.TicketId), attempt: 0 }

    const tooDeep = skip.validation ? undefined : validation.depthProblem(ticket)
    if (tooDeep !== undefined) return refusal(tooDeep, metricProduct)
    if (product === undefined || !mayUseProduct(principal, key) || !app.availability.isAvailable(key)) {
      context.log.info({ ...fields, code: 'PRODUCT_NOT_AVAILABLE' }, 'ticket refused: product not available')
      // Others learn nothing of an admin's reason.
      return notAvailable(metricProduct, product !== undefined && mayUseProduct(principal, key) ? app.availability.get(key).Reason : undefined)
    }
    const invalid = skip.validation ? undefined : validation.schemaProblem(key, ticket)
    if (invalid !== undefined) return refusal(invalid, key)
    if (!app.redis.isReady()) return refusal(unavailable(), key)
    const down = skip.breaker ? undefined : app.breakers.refusal(key)
    if (down !== undefined) return await refusedWhileDown(principal, ticket, key, down, fields, context)
    if (!skip.backlog && app.history.behind()) {
      context.log.warn({ ...fields, code: 'UNAVAILABLE' }, 'ticket refused: history is behind (HISTORY_BACKLOG_MAX)')
      return refusal(unavailable('Ticket history is behind; retry later'), key)
    }
    return await admit(app, product, principal, async (admission) => {
      // A quota counts new tickets only: one refused, repeated or not queued is given back (by the admission).
      const taking = admission.takeQuota()
      const quota = taking === undefined ? undefined : await taking
      if (quota?.allowed === false) {
        // A repeated POST does not count: a ticket already accepted answers its state (or 409 with
        // other fields) as it would without a quota. Only a new ticket is refused.
        const known = await recordStore.existing(principal.clientId, ticket.TicketId, fingerprints.of(ticket))
        if (known !== undefined) return { ...repeated(ticket, key, known), quota }
        context.log.info({ ...fields, code: 'QUOTA_EXCEEDED' }, 'ticket refused: quota used up')
        const problem = new HttpProblem('QUOTA_EXCEEDED', `${Message.QUOTA_EXCEEDED} (${quota.limit} per ${quota.windowSeconds} s)`, { 'retry-after': String(quota.resetSeconds) })
        return { ...refusal(problem, key), quota }
      }
      const queued = await queueTicket(admission, principal, ticket, product, fields, context)
      return admission.quota === undefined ? queued : { ...queued, quota: admission.quota }
    })
  }
}

export type SubmitTicket = ReturnType<typeof ticketSubmission>
