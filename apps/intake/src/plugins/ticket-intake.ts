import fp from 'fastify-plugin'
import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import { Ajv, type ValidateFunction } from 'ajv'
import {
  MAX_DATA_DEPTH, Message, acceptedEnvelope, dataDepthExceeds, failedEnvelope, notReadyEnvelope, productKey,
  type TicketEnvelope, type TicketRequest
} from '@request-out/contracts'
import { ticketFingerprint, ticketKey } from '@request-out/record-store'
import { HttpProblem, RETRY_AFTER_SECONDS, unavailable } from '../http-problem.js'
import { fieldErrors } from './error-handling.js'
import { mayUseProduct, type Principal } from './auth.js'

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
}

interface SubmitContext {
  requestId: string
  /** Seconds of `Prefer: wait=N`; 0 answers at once. */
  waitSeconds: number
  log: FastifyBaseLogger
}

/** Where a ticket is read back; encoded, though TicketIds hold only URL-safe characters today. */
const ticketLocation = (ticketId: string): string => `/v1/request-out/${encodeURIComponent(ticketId)}`

/**
 * The intake's decisions about tickets, without HTTP: who may submit what, whether the product
 * and Redis can take it, idempotency (claim), enqueue, and the answer a POST or GET gives, long
 * polls included. Routes hand it the request's parts and send what it answers.
 */
function createTicketIntake (app: FastifyInstance) {
  const { catalog, env } = app.config
  const { recordStore, recordWaiter, ticketQueues } = app

  // Product input schemas come from the catalog file as plain JSON Schema, so they are compiled by
  // Ajv here, once, rather than by the route's TypeBox schema.
  const ajv = new Ajv({ allErrors: true, strict: false })
  const inputValidators = new Map<string, ValidateFunction>()
  for (const product of catalog.list()) {
    if (product.inputSchema !== undefined) inputValidators.set(product.key, ajv.compile(product.inputSchema))
  }

  const reading = (envelope: TicketEnvelope, headers: Record<string, string> = {}): TicketAnswer => ({
    envelope,
    headers: envelope.Code === 'IN_PROCESS' ? { 'retry-after': RETRY_AFTER_SECONDS, ...headers } : headers
  })
  const answer = (envelope: TicketEnvelope, product: string, outcome: string, headers: Record<string, string> = {}): TicketAnswer =>
    ({ ...reading(envelope, headers), metric: { product, outcome } })
  const refusal = (problem: HttpProblem, product: string): TicketAnswer => ({ problem, headers: {}, metric: { product, outcome: problem.code } })

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
    if (stored === undefined) return notReadyEnvelope('NOT_FOUND')
    return stored.record ?? notReadyEnvelope('IN_PROCESS')
  }

  /** The record if stored, else the seed's in-process answer after waiting up to the long poll. */
  async function currentAnswer (clientId: string, ticketId: string, wait: { promise: Promise<boolean> } | undefined): Promise<TicketEnvelope> {
    let state = await recordStore.read(clientId, ticketId)
    if (!state.exists) return await historyAnswer(clientId, ticketId)
    if (state.record === undefined && wait !== undefined && await wait.promise) {
      state = await recordStore.read(clientId, ticketId)
    }
    if (!state.exists) return notReadyEnvelope('NOT_FOUND')
    return state.record ?? notReadyEnvelope('IN_PROCESS')
  }

  /** Bounds what JSON Schema cannot: how deep `Data` nests (checked before anything walks it). */
  function depthProblem (ticket: TicketRequest): HttpProblem | undefined {
    if (ticket.Data === undefined || !dataDepthExceeds(ticket.Data)) return undefined
    return new HttpProblem('VALIDATION_ERROR', `${Message.VALIDATION_ERROR}: /Data`, {}, [{ Field: '/Data', Message: `must not nest deeper than ${MAX_DATA_DEPTH} levels` }])
  }

  function schemaProblem (key: string, ticket: TicketRequest): HttpProblem | undefined {
    const validateInput = inputValidators.get(key)
    if (validateInput === undefined || validateInput(ticket.Data ?? {})) return undefined
    const errors = fieldErrors(validateInput.errors ?? [], '/Data')
    return new HttpProblem('VALIDATION_ERROR', `${Message.VALIDATION_ERROR}: ${errors.map((e) => e.Field).join(', ')}`, {}, errors)
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
        return answer(notReadyEnvelope('PRODUCT_NOT_AVAILABLE'), metricProduct, 'PRODUCT_NOT_AVAILABLE')
      }
      const invalid = schemaProblem(key, ticket)
      if (invalid !== undefined) return refusal(invalid, key)
      if (!app.redis.isReady()) return refusal(unavailable(), key)
      if (app.history.behind()) {
        context.log.warn({ ...fields, code: 'UNAVAILABLE' }, 'ticket refused: history is behind (HISTORY_BACKLOG_MAX)')
        return refusal(unavailable('Ticket history is behind; retry later'), key)
      }
      if (!ticketQueues.reserve(key, env.MAX_QUEUE_DEPTH)) {
        context.log.warn({ ...fields, backlog: ticketQueues.backlog(key) }, 'ticket refused: queue over MAX_QUEUE_DEPTH')
        return refusal(unavailable('The product queue is full; retry later'), key)
      }

      // Registered before anything is written, so a record stored in between is not missed.
      const wait = context.waitSeconds > 0 ? recordWaiter.waitFor(ticketKey(principal.clientId, ticket.TicketId), context.waitSeconds * 1000) : undefined
      let reserved = true
      try {
        const claim = await recordStore.claim(principal.clientId, ticket.TicketId, ticketFingerprint(ticket), key, context.requestId)
        if (claim.outcome === 'existing' && !claim.sameFields) {
          context.log.info({ ...fields, code: 'TICKET_CONFLICT' }, 'ticket refused: TicketId reused with other fields')
          return answer(failedEnvelope(ticket, 'TICKET_CONFLICT', Message.TICKET_CONFLICT), key, 'TICKET_CONFLICT')
        }
        if (claim.outcome === 'existing' && claim.record !== undefined) return answer(claim.record, key, 'duplicate')
        // Also for a ticket already claimed but without a record: the add is idempotent by job id,
        // and it re-creates the job if an earlier attempt claimed the ticket but never reached the queue.
        reserved = false
        await ticketQueues.enqueue(product, {
          TicketId: ticket.TicketId,
          Subject: ticket.Subject,
          SubjectType: ticket.SubjectType,
          SubjectIdentifier: ticket.SubjectIdentifier,
          ...(ticket.Data === undefined ? {} : { Data: ticket.Data }),
          ClientId: principal.clientId,
          RequestId: context.requestId,
          AcceptedAt: Date.now()
        })
        const outcome = claim.outcome === 'claimed' ? 'accepted' : 'duplicate'
        context.log.info({ ...fields, outcome }, 'ticket queued')
        const location = { location: ticketLocation(ticket.TicketId) }
        if (wait !== undefined) {
          const current = await currentAnswer(principal.clientId, ticket.TicketId, wait)
          return answer(current, key, outcome, { ...location, 'preference-applied': `wait=${context.waitSeconds}` })
        }
        return answer(acceptedEnvelope(ticket), key, outcome, { ...location, 'retry-after': RETRY_AFTER_SECONDS })
      } finally {
        if (reserved) ticketQueues.release(key)
        wait?.cancel()
      }
    },

    /** GET: the ticket's record, or the seed's answer while it has none (admins read any client's). */
    async read (principal: Principal, ticketId: string, owner: string, waitSeconds: number): Promise<TicketAnswer> {
      if (owner !== principal.clientId && principal.role !== 'admin') {
        throw new HttpProblem('FORBIDDEN', "Only admins may read other clients' tickets")
      }
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
  dependencies: ['config', 'redis', 'records', 'history', 'ticket-queues', 'availability', 'auth'],
  fastify: '5.x'
})
