import fp from 'fastify-plugin'
import type { JobType } from 'bullmq'
import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import { Ajv, type ValidateFunction } from 'ajv'
import {
  MAX_DATA_DEPTH, Message, acceptedEnvelope, cancelledEnvelope, cancellingEnvelope, dataDepthExceeds, failedEnvelope,
  finalRecordEnvelope, notReadyEnvelope, productKey, TicketRequest as TicketRequestSchema, type BatchResult, type BulkCancelFilter,
  type TicketEnvelope, type TicketRequest
} from '@request-out/contracts'
import { TicketFingerprints, type ExistingTicket } from '@request-out/record-store'
import { activeTraceId } from '@request-out/tracing'
import { HttpProblem, RETRY_AFTER_SECONDS, unavailable } from '../http-problem.js'
import { defineQuotaCommands, returnQuota, takeQuota, type QuotaState } from '../quota.js'
import { fieldErrors } from './error-handling.js'
import type { Product } from '@request-out/product-catalog'
import { actingFor, mayUseProduct, type Principal } from './auth.js'
import type { RateDecision } from './client-rate.js'
import { ticketKey } from '@request-out/redis-keys'

declare module 'fastify' {
  interface FastifyInstance {
    ticketIntake: ReturnType<typeof createTicketIntake>
  }
}

/**
 * What the intake answers about a ticket, and what it counts: the envelope (or the problem to
 * answer with), extra headers, and the outcome metrics record (`accepted`, `duplicate` or a code).
 */
export interface TicketAnswer {
  envelope?: TicketEnvelope
  problem?: HttpProblem
  headers: Record<string, string>
  /** Submissions only: what `request_out_tickets_total` counts. */
  metric?: { product: string, outcome: string }
  /** Submissions of a client with a quota: where it stands (the RateLimit fields tell it). */
  quota?: QuotaState
}

interface SubmitContext {
  requestId: string
  /** Seconds of `Prefer: wait=N`; 0 answers at once. */
  waitSeconds: number
  log: FastifyBaseLogger
  /** Puts an accepted ticket's fields on the request's access line (else they get a line of their own). */
  annotate?: (fields: Record<string, unknown>) => void
}

/** The queue states a ticket can be cancelled in (its job not finished). */
const CANCELLABLE_STATES = ['waiting', 'prioritized', 'delayed', 'active'] as const
const BULK_PAGE = 500

/** Why a product is not available now: an admin's switch (and the upstream breaker, later). */
const UNAVAILABLE_REASON_HEADER = 'product-unavailable-reason'

/** Free text as a header value: at most 200 characters, UTF-8 percent-encoded past printable ASCII (and `%`), so decodeURIComponent() gives it back. */
const headerText = (text: string): string => text.slice(0, 200).replace(/[^\x20-\x24\x26-\x7e]/gu, (c) => encodeURIComponent(c))

const tooDeep = (field: string): HttpProblem =>
  new HttpProblem('VALIDATION_ERROR', `${Message.VALIDATION_ERROR}: ${field}`, {}, [{ Field: field, Message: `must not nest deeper than ${MAX_DATA_DEPTH} levels` }])

/** A batch entry for a ticket refused with `problem`. */
const problemResult = (p: HttpProblem): Omit<BatchResult, 'TicketId'> =>
  ({ StatusCode: p.statusCode, Code: p.code, Message: p.message, ...(p.errors === undefined ? {} : { Errors: p.errors }) })

/** Where a ticket is read back; encoded, though TicketIds hold only URL-safe characters today. */
const ticketLocation = (ticketId: string): string => `/v1/request-out/${encodeURIComponent(ticketId)}`

/**
 * The intake's decisions about tickets, without HTTP: who may submit what, whether the product
 * and Redis can take it, idempotency (claim), enqueue, and the answer a POST or GET gives, long
 * polls included. Routes hand it the request's parts and send what it answers.
 */
function createTicketIntake (app: FastifyInstance) {
  defineQuotaCommands(app.redis.producer)
  const { catalog, env, fingerprintKeys } = app.config
  const { recordStore, recordWaiter, ticketQueues } = app
  const fingerprints = new TicketFingerprints(fingerprintKeys.current, fingerprintKeys.previous)

  // Product input schemas come from the catalog file as plain JSON Schema, so they are compiled by
  // Ajv here, once, rather than by the route's TypeBox schema.
  const ajv = new Ajv({ allErrors: true, strict: false })
  const inputValidators = new Map<string, ValidateFunction>()
  for (const product of catalog.list()) {
    if (product.inputSchema !== undefined) inputValidators.set(product.key, ajv.compile(product.inputSchema))
  }

  // A batch's tickets are checked one by one against the same schema a single POST's body is.
  const validateTicket = ajv.compile(TicketRequestSchema)

  const reading = (envelope: TicketEnvelope, headers: Record<string, string> = {}): TicketAnswer => ({
    envelope,
    headers: envelope.Code === 'IN_PROCESS' || envelope.Code === 'CANCELLING' ? { 'retry-after': RETRY_AFTER_SECONDS, ...headers } : headers
  })
  const answer = (envelope: TicketEnvelope, product: string, outcome: string, headers: Record<string, string> = {}): TicketAnswer =>
    ({ ...reading(envelope, headers), metric: { product, outcome } })
  const refusal = (problem: HttpProblem, product: string): TicketAnswer => ({ problem, headers: {}, metric: { product, outcome: problem.code } })

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

  /**
   * A ticket Redis no longer holds (past RECORD_TTL_SECONDS), from the history: its newest
   * acceptance's record, or NOT_FOUND only when history has none either. History unreachable is a
   * 503 within HISTORY_QUERY_TIMEOUT_MS, never a false NOT_FOUND.
   */
  async function historyAnswer (clientId: string, ticketId: string): Promise<TicketEnvelope> {
    const store = app.history.store
    if (store === undefined) return notReadyEnvelope('NOT_FOUND')
    let stored
    try {
      stored = await store.latest(clientId, ticketId)
    } catch (err) {
      app.log.warn({ err, clientId, ticketId }, 'ticket history not reachable')
      throw unavailable('Ticket history is not reachable; retry later')
    }
    // An acceptance without its record that Redis no longer holds will never get one (Redis lost
    // it, or it expired unfinished): NOT_FOUND, so the client POSTs it again.
    return stored?.record ?? notReadyEnvelope('NOT_FOUND')
  }

  /** The record if stored, else the seed's in-process answer after waiting up to the long poll. */
  async function currentAnswer (clientId: string, ticketId: string, wait: { promise: Promise<boolean> } | undefined): Promise<TicketEnvelope> {
    let state = await recordStore.read(clientId, ticketId, wait !== undefined)
    if (!state.exists) return await historyAnswer(clientId, ticketId)
    if (state.record === undefined && wait !== undefined && await wait.promise) {
      state = await recordStore.read(clientId, ticketId)
    }
    if (!state.exists) return notReadyEnvelope('NOT_FOUND')
    return state.record ?? notReadyEnvelope('IN_PROCESS')
  }

  /**
   * Takes a cancelled ticket's job out of its queue when it is not running, and stores the
   * cancelled record. A job that is running (locked by a worker) cannot be removed: the worker
   * holding it heard the cancellation and stops it. A ticket without a job (claimed, never queued)
   * gets its cancelled record at once.
   */
  async function removeQueuedJob (clientId: string, ticket: { TicketId: string, Subject: string, SubjectType: string, SubjectIdentifier: string }, product: string, log: FastifyBaseLogger): Promise<void> {
    const job = await ticketQueues.queueFor(product)?.getJob(ticketKey(clientId, ticket.TicketId))
    if (job !== undefined) {
      try {
        await job.remove()
      } catch (err) {
        log.info({ clientId, ticketId: ticket.TicketId, reason: (err as Error).message }, 'cancellation: the ticket is running; its worker stops it')
        return
      }
    }
    // No try ran: the record says 0 tries (the ticket page shows them).
    await recordStore.writeRecord(clientId, ticket.TicketId, cancelledEnvelope(ticket), { startedAt: Date.now(), tries: 0 })
    log.info({ clientId, ticketId: ticket.TicketId, product }, 'ticket cancelled: taken out of its queue')
  }

  /** Bounds what JSON Schema cannot: how deep `Data` nests (checked before anything walks it). */
  function depthProblem (ticket: TicketRequest): HttpProblem | undefined {
    if (ticket.Data === undefined || !dataDepthExceeds(ticket.Data)) return undefined
    return tooDeep('/Data')
  }

  function schemaProblem (key: string, ticket: TicketRequest): HttpProblem | undefined {
    const validateInput = inputValidators.get(key)
    if (validateInput === undefined || validateInput(ticket.Data ?? {})) return undefined
    const errors = fieldErrors(validateInput.errors ?? [], '/Data')
    return new HttpProblem('VALIDATION_ERROR', `${Message.VALIDATION_ERROR}: ${errors.map((e) => e.Field).join(', ')}`, {}, errors)
  }

  /** Takes a place in the product's queue, claims the ticket and enqueues its job (or answers what is known of it). */
  async function queueTicket (principal: Principal, ticket: TicketRequest, product: Product, fields: Record<string, unknown>, context: SubmitContext): Promise<TicketAnswer> {
    const key = product.key
    if (!ticketQueues.reserve(key, env.MAX_QUEUE_DEPTH)) {
      context.log.warn({ ...fields, backlog: ticketQueues.backlog(key) }, 'ticket refused: queue over MAX_QUEUE_DEPTH')
      return refusal(unavailable('The product queue is full; retry later'), key)
    }

    // Registered before anything is written, so a record stored in between is not missed.
    const wait = context.waitSeconds > 0 ? recordWaiter.waitFor(ticketKey(principal.clientId, ticket.TicketId), context.waitSeconds * 1000) : undefined
    let reserved = true
    // Fair sharing's turn is taken beside the claim: one round trip for both.
    const turn = ticketQueues.takeTurn(product, principal.clientId)
    let turnUsed = false
    try {
      const claim = await recordStore.claim(principal.clientId, ticket.TicketId, fingerprints.of(ticket), key, context.requestId, activeTraceId())
      if (claim.outcome === 'existing' && (!claim.sameFields || claim.record !== undefined || claim.cancelRequested)) {
        if (!claim.sameFields) context.log.info({ ...fields, code: 'TICKET_CONFLICT' }, 'ticket refused: TicketId reused with other fields')
        return repeated(ticket, key, claim)
      }
      // Also for a ticket already claimed but without a record: the add is idempotent by job id,
      // and it re-creates the job if an earlier attempt claimed the ticket but never reached the queue.
      reserved = false
      // A ticket claimed before keeps its turn only if its job was lost and is added again now;
      // giving the turn back then costs nothing but a tie with the client's next ticket.
      turnUsed = claim.outcome === 'claimed'
      await ticketQueues.enqueue(product, {
        TicketId: ticket.TicketId,
        Subject: ticket.Subject,
        SubjectType: ticket.SubjectType,
        SubjectIdentifier: ticket.SubjectIdentifier,
        ...(ticket.Data === undefined ? {} : { Data: ticket.Data }),
        ClientId: principal.clientId,
        RequestId: context.requestId,
        AcceptedAt: Date.now()
      }, turn)
      const outcome = claim.outcome === 'claimed' ? 'accepted' : 'duplicate'
      if (context.annotate !== undefined) context.annotate({ ...fields, outcome })
      else context.log.info({ ...fields, outcome }, 'ticket queued')
      const location = { location: ticketLocation(ticket.TicketId) }
      if (wait !== undefined) {
        const current = await currentAnswer(principal.clientId, ticket.TicketId, wait)
        return answer(current, key, outcome, { ...location, 'preference-applied': `wait=${context.waitSeconds}` })
      }
      return answer(acceptedEnvelope(ticket), key, outcome, { ...location, 'retry-after': RETRY_AFTER_SECONDS })
    } finally {
      if (reserved) ticketQueues.release(key)
      if (!turnUsed && turn !== undefined) void ticketQueues.returnTurn(product, principal.clientId, turn).catch(() => {})
      wait?.cancel()
    }
  }

  return {
    /** POST: checks, claims and enqueues a ticket, or answers what is already known of it. */
    async submit (principal: Principal, ticket: TicketRequest, context: SubmitContext): Promise<TicketAnswer> {
      const key = productKey(ticket)
      const product = catalog.get(key)
      const metricProduct = product === undefined ? 'unknown' : key
      // attempt 0: at the intake, before any try. The same fields as every worker line about the ticket.
      // Passed per line rather than through log.child(): a child logger per request cost 4 % of the CPU.
      const fields = { ticketId: ticket.TicketId, clientId: principal.clientId, product: key, jobId: ticketKey(principal.clientId, ticket.TicketId), attempt: 0 }

      const tooDeep = depthProblem(ticket)
      if (tooDeep !== undefined) return refusal(tooDeep, metricProduct)
      if (product === undefined || !mayUseProduct(principal, key) || !app.availability.isAvailable(key)) {
        context.log.info({ ...fields, code: 'PRODUCT_NOT_AVAILABLE' }, 'ticket refused: product not available')
        // The envelope stays the seed's, byte for byte; an admin's reason goes in a header, and
        // only to a client that may use the product (others learn nothing of it).
        const reason = product !== undefined && mayUseProduct(principal, key) ? app.availability.get(key).Reason : undefined
        return answer(notReadyEnvelope('PRODUCT_NOT_AVAILABLE'), metricProduct, 'PRODUCT_NOT_AVAILABLE', reason === undefined ? {} : { [UNAVAILABLE_REASON_HEADER]: headerText(reason) })
      }
      const invalid = schemaProblem(key, ticket)
      if (invalid !== undefined) return refusal(invalid, key)
      if (!app.redis.isReady()) return refusal(unavailable(), key)
      if (app.history.behind()) {
        context.log.warn({ ...fields, code: 'UNAVAILABLE' }, 'ticket refused: history is behind (HISTORY_BACKLOG_MAX)')
        return refusal(unavailable('Ticket history is behind; retry later'), key)
      }
      // A quota counts new tickets only: one refused, repeated or not queued is given back.
      if (principal.quota === undefined) return await queueTicket(principal, ticket, product, fields, context)
      const quota = await takeQuota(app.redis.producer, env.QUEUE_PREFIX, principal.clientId, principal.quota)
      if (!quota.allowed) {
        // A repeated POST does not count: a ticket already accepted answers its state (or 409 with
        // other fields) as it would without a quota. Only a new ticket is refused.
        const known = await recordStore.existing(principal.clientId, ticket.TicketId, fingerprints.of(ticket))
        if (known !== undefined) return { ...repeated(ticket, key, known), quota }
        context.log.info({ ...fields, code: 'QUOTA_EXCEEDED' }, 'ticket refused: quota used up')
        const problem = new HttpProblem('QUOTA_EXCEEDED', `${Message.QUOTA_EXCEEDED} (${quota.limit} per ${quota.windowSeconds} s)`, { 'retry-after': String(quota.resetSeconds) })
        return { ...refusal(problem, key), quota }
      }
      const queued = await queueTicket(principal, ticket, product, fields, context).catch(async (err: unknown) => {
        await returnQuota(app.redis.producer, env.QUEUE_PREFIX, principal.clientId, principal.quota!).catch(() => {})
        throw err
      })
      if (queued.metric?.outcome !== 'accepted') {
        await returnQuota(app.redis.producer, env.QUEUE_PREFIX, principal.clientId, principal.quota).catch(() => {})
        return { ...queued, quota: { ...quota, remaining: quota.remaining + 1 } }
      }
      return { ...queued, quota }
    },

    /**
     * POST of a batch: each ticket answered as a single POST of it would be (validation, entitlement,
     * idempotency, quotas), in request order. The per-client rate limit counts tickets: those past
     * it answer 429. A TicketId repeated in the batch is a re-POST (its entries run in order). The
     * tickets run concurrently, so their Redis commands share round trips.
     */
    async submitBatch (principal: Principal, tickets: Array<Record<string, unknown>>, context: SubmitContext): Promise<{ results: BatchResult[], retryAfter: boolean, outcomes: Array<{ product: string, outcome: string }>, rate: RateDecision }> {
      if (!app.redis.isReady()) throw unavailable()
      // The per-client rate limit counts a batch's tickets.
      const rate = await app.clientRate.take(principal.clientId, tickets.length)
      const { allowed } = rate
      const results: BatchResult[] = new Array(tickets.length)
      const outcomes: Array<{ product: string, outcome: string }> = []
      let retryAfter = false
      const byTicketId = new Map<string, number[]>()
      tickets.forEach((ticket, i) => {
        const id = typeof ticket.TicketId === 'string' ? ticket.TicketId : `#${i}`
        byTicketId.set(id, [...(byTicketId.get(id) ?? []), i])
      })
      const one = async (i: number): Promise<void> => {
        const ticket = tickets[i] as Record<string, unknown>
        const ticketId = typeof ticket.TicketId === 'string' ? ticket.TicketId : ''
        const result = (r: Omit<BatchResult, 'TicketId'>): void => { results[i] = { TicketId: ticketId, ...r } }
        if (i >= allowed) {
          retryAfter = true
          return result({ StatusCode: 429, Code: 'RATE_LIMITED', Message: Message.RATE_LIMITED })
        }
        // Depth first, without recursion: serializing a ticket nested thousands of levels deep
        // overflows the stack. Its own `Data` depth is the single POST's check, in submit().
        if (dataDepthExceeds(ticket, MAX_DATA_DEPTH + 1)) return result(problemResult(tooDeep(dataDepthExceeds(ticket.Data) ? '/Data' : '/')))
        // Bytes, as a single POST's body limit counts them (not UTF-16 units).
        if (Buffer.byteLength(JSON.stringify(ticket)) > env.BODY_LIMIT_BYTES) return result({ StatusCode: 413, Code: 'PAYLOAD_TOO_LARGE', Message: Message.PAYLOAD_TOO_LARGE })
        if (!validateTicket(ticket)) {
          const errors = fieldErrors(validateTicket.errors ?? [])
          return result({ StatusCode: 400, Code: 'VALIDATION_ERROR', Message: `${Message.VALIDATION_ERROR}: ${errors.map((e) => e.Field).join(', ')}`, Errors: errors })
        }
        let answer: TicketAnswer
        try {
          answer = await this.submit(principal, ticket as unknown as TicketRequest, { ...context, requestId: `${context.requestId}.${i}`, waitSeconds: 0 })
        } catch (err) {
          const problem = err instanceof HttpProblem ? err : unavailable()
          if (!(err instanceof HttpProblem)) context.log.warn({ err, ticketId }, 'batch ticket failed')
          answer = { problem, headers: {} }
        }
        if (answer.metric !== undefined) outcomes.push(answer.metric)
        const p = answer.problem
        if (p !== undefined) {
          if (p.statusCode === 429 || p.statusCode === 503) retryAfter = true
          return result(problemResult(p))
        }
        const e = answer.envelope as TicketEnvelope
        result({ StatusCode: e.StatusCode, ...(e.Code === undefined ? {} : { Code: e.Code }), Message: e.Message })
      }
      // Each TicketId's entries in order; different TicketIds at once.
      await Promise.all([...byTicketId.values()].map(async (indexes) => { for (const i of indexes) await one(i) }))
      return { results, retryAfter, outcomes, rate }
    },

    /**
     * DELETE: asks for the ticket's cancellation. A queued job is removed at once and the cancelled
     * record stored; a running one is stopped by the worker that holds it (every worker hears the
     * request). Answers 202 CANCELLING, or as GET would once final with `Prefer: wait`; a ticket
     * with its record answers 409 TICKET_FINAL (410 if that record is the cancellation). An admin's
     * cancellation is audited when `address` (where it came from) is given.
     */
    async cancel (principal: Principal, ticketId: string, ownerId: string, waitSeconds: number, log: FastifyBaseLogger, address?: string): Promise<TicketAnswer> {
      const owner = actingFor(principal, ownerId, "cancel other clients' tickets")
      if (!app.redis.isReady()) throw unavailable()
      const finalAnswer = (record: TicketEnvelope): TicketAnswer => reading(record.Code === 'CANCELLED' ? record : finalRecordEnvelope(record))
      const wait = waitSeconds > 0 ? recordWaiter.waitFor(ticketKey(owner, ticketId), waitSeconds * 1000) : undefined
      try {
        const request = await recordStore.requestCancel(owner, ticketId, principal.clientId)
        if (request.outcome === 'unknown') {
          // Redis forgot it; history may still hold its (final) record.
          const stored = await historyAnswer(owner, ticketId)
          return stored.Code === 'NOT_FOUND' || stored.Code === 'IN_PROCESS' ? reading(notReadyEnvelope('NOT_FOUND')) : finalAnswer(stored)
        }
        if (request.outcome === 'final') return finalAnswer(request.record)
        // Audited once it happened, with the state it changed: a refused cancel (final, unknown)
        // or a repeated one changed nothing and is not audited as done.
        if (request.outcome === 'requested' && address !== undefined && principal.role === 'admin') {
          const target = `${owner}/${ticketId}`
          await app.audit({ actor: principal.clientId, address, action: 'ticket.cancel', target, clientId: owner, ticketId, before: { Code: 'IN_PROCESS' }, after: { Code: 'CANCELLING' } })
        }
        const [Subject = '', SubjectType = '', SubjectIdentifier = ''] = request.product.split('/')
        const ticket = { TicketId: ticketId, Subject, SubjectType, SubjectIdentifier }
        if (request.outcome === 'requested') await removeQueuedJob(owner, ticket, request.product, log)
        if (wait !== undefined) {
          // As GET would answer once final: the cancelled record, or the product's if it finished first.
          const current = await currentAnswer(owner, ticketId, wait)
          return reading(current.Code === 'IN_PROCESS' ? cancellingEnvelope(ticket) : current, { 'preference-applied': `wait=${waitSeconds}` })
        }
        return reading(cancellingEnvelope(ticket), { location: ticketLocation(ticketId) })
      } finally {
        wait?.cancel()
      }
    },

    /**
     * Operators' bulk cancellation: every unfinished ticket of the product (or all products) in
     * the given states, of the client if one is given. A dry run only counts them; the real one is
     * audited (once, with its filter) before anything is cancelled. Resolves how many matched and
     * how many were asked to cancel.
     */
    async cancelMatching (admin: Principal, filter: BulkCancelFilter, dryRun: boolean, log: FastifyBaseLogger, address: string): Promise<{ matched: number, cancelled: number }> {
      if (!app.redis.isReady()) throw unavailable()
      if (!dryRun) await app.audit({ actor: admin.clientId, address, action: 'tickets.cancel', target: JSON.stringify(filter), after: filter })
      // Waiting means waiting to run: with fair sharing, waiting jobs sit in BullMQ's prioritized set.
      const states: JobType[] = filter.State === undefined ? [...CANCELLABLE_STATES] : filter.State === 'waiting' ? ['waiting', 'prioritized'] : [filter.State]
      const products = filter.Product === undefined ? ticketQueues.all() : ticketQueues.all().filter(([key]) => key === filter.Product)
      let matched = 0
      let cancelled = 0
      for (const [, queue] of products) {
        // In pages. A cancelled queued job leaves the list, so after cancelling, the same page is read
        // again; jobs seen already (running ones stay listed until their worker stops them) are skipped.
        const seen = new Set<string>()
        for (let start = 0; ;) {
          const jobs = await queue.getJobs(states, start, start + BULK_PAGE - 1, true)
          let fresh = 0
          for (const job of jobs) {
            if (job?.id === undefined || seen.has(job.id)) continue
            seen.add(job.id)
            fresh++
            if (filter.ClientId !== undefined && job.data.ClientId !== filter.ClientId) continue
            matched++
            if (dryRun) continue
            const answer = await this.cancel(admin, job.data.TicketId, job.data.ClientId, 0, log)
            if (answer.envelope?.Code === 'CANCELLING' || answer.envelope?.Code === 'CANCELLED') cancelled++
          }
          if (jobs.length < BULK_PAGE) break
          if (dryRun || fresh === 0) start += BULK_PAGE
        }
      }
      return { matched, cancelled }
    },

    /** GET: the ticket's record, or the seed's answer while it has none (admins read any client's). */
    async read (principal: Principal, ticketId: string, ownerId: string, waitSeconds: number): Promise<TicketAnswer> {
      const owner = actingFor(principal, ownerId, "read other clients' tickets")
      if (!app.redis.isReady()) throw unavailable()
      const wait = waitSeconds > 0 ? recordWaiter.waitFor(ticketKey(owner, ticketId), waitSeconds * 1000) : undefined
      try {
        return reading(await currentAnswer(owner, ticketId, wait), wait === undefined ? {} : { 'preference-applied': `wait=${waitSeconds}` })
      } finally {
        wait?.cancel()
      }
    }
  }
}

async function ticketIntakePlugin (app: FastifyInstance): Promise<void> {
  app.decorate('ticketIntake', createTicketIntake(app))
}

export default fp(ticketIntakePlugin, {
  name: 'ticket-intake',
  dependencies: ['config', 'redis', 'records', 'history', 'audit', 'ticket-queues', 'availability', 'auth', 'client-rate'],
  fastify: '5.x'
})
