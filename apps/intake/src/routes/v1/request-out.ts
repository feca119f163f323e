import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply } from 'fastify'
import { Type } from '@sinclair/typebox'
import { Ajv, type ValidateFunction } from 'ajv'
import {
  ErrorEnvelope, Message, TicketEnvelope, TicketParams, TicketRequest, acceptedEnvelope, failedEnvelope,
  MAX_DATA_DEPTH, dataDepthExceeds, notReadyEnvelope, productKey, type ErrorCode
} from '@request-out/contracts'
import { ticketFingerprint, ticketKey } from '@request-out/record-store'
import { HttpProblem, RETRY_AFTER_SECONDS, unavailable } from '../../http-problem.js'
import { fieldErrors } from '../../plugins/error-handling.js'
import { mayUseProduct, principalOf } from '../../plugins/auth.js'
import { preferredWaitSeconds } from '../../prefer-wait.js'

const errorResponses = {
  400: ErrorEnvelope, 401: ErrorEnvelope, 403: ErrorEnvelope, 413: ErrorEnvelope, 415: ErrorEnvelope,
  429: ErrorEnvelope, 500: ErrorEnvelope, 503: ErrorEnvelope
}
const ticketResponses = {
  200: TicketEnvelope, 404: TicketEnvelope, 409: TicketEnvelope, 422: TicketEnvelope, 502: TicketEnvelope
}

const PreferHeader = Type.Object({
  prefer: Type.Optional(Type.String({ description: 'wait=N (N ≤ 30): hold the answer until the ticket is final or N seconds pass' }))
})

/** Where a ticket is read back; encoded, though TicketIds hold only URL-safe characters today. */
const ticketLocation = (ticketId: string): string => `/v1/request-out/${encodeURIComponent(ticketId)}`

const requestOutRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { catalog, env } = app.config
  const { recordStore, recordWaiter, ticketQueues } = app

  // Product input schemas come from the catalog file as plain JSON Schema, so they are compiled by
  // Ajv here, once, rather than by the route's TypeBox schema.
  const ajv = new Ajv({ allErrors: true, strict: false })
  const inputValidators = new Map<string, ValidateFunction>()
  for (const product of catalog.list()) {
    if (product.inputSchema !== undefined) inputValidators.set(product.key, ajv.compile(product.inputSchema))
  }

  const perClientLimit = {
    rateLimit: {
      max: env.RATE_LIMIT_MAX,
      timeWindow: env.RATE_LIMIT_WINDOW_MS,
      keyGenerator: (request: { principal?: { clientId: string } | undefined, ip: string }) =>
        `client:${request.principal?.clientId ?? request.ip}`
    }
  }

  const sendTicket = (reply: FastifyReply, envelope: TicketEnvelope): FastifyReply => {
    if (envelope.Code === 'IN_PROCESS') void reply.header('retry-after', RETRY_AFTER_SECONDS)
    return reply.code(envelope.StatusCode).send(envelope)
  }

  /** The record if stored, else the seed's in-process answer after waiting up to `waitSeconds`. */
  async function currentAnswer (
    clientId: string, ticketId: string, wait: { promise: Promise<boolean> } | undefined
  ): Promise<TicketEnvelope> {
    let state = await recordStore.read(clientId, ticketId)
    if (!state.exists) return notReadyEnvelope('NOT_FOUND')
    if (state.record === undefined && wait !== undefined && await wait.promise) {
      state = await recordStore.read(clientId, ticketId)
    }
    if (!state.exists) return notReadyEnvelope('NOT_FOUND')
    return state.record ?? notReadyEnvelope('IN_PROCESS')
  }

  app.post('/request-out', {
    schema: {
      tags: ['request-out'],
      summary: 'Submit a ticket: a product creates its record asynchronously',
      description: 'Answers 202 once the ticket is queued (Location: where to poll). Re-POSTing the same ticket answers its ' +
        'current state; the same TicketId with other fields answers 409. With Prefer: wait=N, answers as GET would once final.',
      security: [{ bearerAuth: [] }],
      headers: PreferHeader,
      body: TicketRequest,
      response: { 202: TicketEnvelope, ...ticketResponses, ...errorResponses }
    },
    config: { ...perClientLimit, countsTickets: true }
  }, async (request, reply) => {
    const principal = principalOf(request)
    const ticket = request.body
    const key = productKey(ticket)
    // attempt 0: at the intake, before any try. The same fields as every worker line about the ticket.
    // Passed per line rather than through log.child(): a child logger per request cost 4 % of the CPU.
    const fields = { ticketId: ticket.TicketId, clientId: principal.clientId, product: key, jobId: ticketKey(principal.clientId, ticket.TicketId), attempt: 0 }
    const log = {
      info: (obj: object, msg: string): void => { request.log.info({ ...fields, ...obj }, msg) },
      warn: (obj: object, msg: string): void => { request.log.warn({ ...fields, ...obj }, msg) }
    }
    const refuse = (code: ErrorCode): void => {
      request.ticketOutcome = { product: catalog.get(key) === undefined ? 'unknown' : key, outcome: code }
    }

    if (ticket.Data !== undefined && dataDepthExceeds(ticket.Data)) {
      refuse('VALIDATION_ERROR')
      const errors = [{ Field: '/Data', Message: `must not nest deeper than ${MAX_DATA_DEPTH} levels` }]
      throw new HttpProblem('VALIDATION_ERROR', `${Message.VALIDATION_ERROR}: /Data`, {}, errors)
    }
    const product = catalog.get(key)
    if (product === undefined || !mayUseProduct(principal, key) || !app.availability.isAvailable(key)) {
      refuse('PRODUCT_NOT_AVAILABLE')
      log.info({ code: 'PRODUCT_NOT_AVAILABLE' }, 'ticket refused: product not available')
      return sendTicket(reply, notReadyEnvelope('PRODUCT_NOT_AVAILABLE'))
    }
    const validateInput = inputValidators.get(key)
    if (validateInput !== undefined && !validateInput(ticket.Data ?? {})) {
      refuse('VALIDATION_ERROR')
      const errors = fieldErrors(validateInput.errors ?? [], '/Data')
      throw new HttpProblem('VALIDATION_ERROR', `${Message.VALIDATION_ERROR}: ${errors.map((e) => e.Field).join(', ')}`, {}, errors)
    }
    if (!app.redis.isReady()) {
      refuse('UNAVAILABLE')
      throw unavailable()
    }
    if (!ticketQueues.reserve(key, env.MAX_QUEUE_DEPTH)) {
      refuse('UNAVAILABLE')
      log.warn({ backlog: ticketQueues.backlog(key) }, 'ticket refused: queue over MAX_QUEUE_DEPTH')
      throw unavailable('The product queue is full; retry later')
    }

    const waitSeconds = preferredWaitSeconds(request.headers.prefer)
    // Registered before anything is written, so a record stored in between is not missed.
    const wait = waitSeconds > 0 ? recordWaiter.waitFor(ticketKey(principal.clientId, ticket.TicketId), waitSeconds * 1000) : undefined
    let reserved = true
    try {
      const claim = await recordStore.claim(principal.clientId, ticket.TicketId, ticketFingerprint(ticket), key)
      if (claim.outcome === 'existing' && !claim.sameFields) {
        refuse('TICKET_CONFLICT')
        log.info({ code: 'TICKET_CONFLICT' }, 'ticket refused: TicketId reused with other fields')
        return sendTicket(reply, failedEnvelope(ticket, 'TICKET_CONFLICT', Message.TICKET_CONFLICT))
      }
      if (claim.outcome === 'existing' && claim.record !== undefined) {
        request.ticketOutcome = { product: key, outcome: 'duplicate' }
        return sendTicket(reply, claim.record)
      }
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
        RequestId: request.id,
        AcceptedAt: Date.now()
      })
      request.ticketOutcome = { product: key, outcome: claim.outcome === 'claimed' ? 'accepted' : 'duplicate' }
      log.info({ outcome: claim.outcome === 'claimed' ? 'accepted' : 'duplicate' }, 'ticket queued')

      void reply.header('location', ticketLocation(ticket.TicketId))
      if (wait !== undefined) {
        void reply.header('preference-applied', `wait=${waitSeconds}`)
        return sendTicket(reply, await currentAnswer(principal.clientId, ticket.TicketId, wait))
      }
      void reply.header('retry-after', RETRY_AFTER_SECONDS)
      return reply.code(202).send(acceptedEnvelope(ticket))
    } finally {
      if (reserved) ticketQueues.release(key)
      wait?.cancel()
    }
  })

  app.get('/request-out/:TicketId', {
    schema: {
      tags: ['request-out'],
      summary: "A ticket's record, or the seed's in-process answer while it is not ready",
      description: 'Admins may read another client\'s ticket with ?ClientId=. Supports Prefer: wait=N (long poll).',
      security: [{ bearerAuth: [] }],
      params: TicketParams,
      querystring: Type.Object({ ClientId: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })) }, { additionalProperties: false }),
      headers: PreferHeader,
      response: { ...ticketResponses, ...errorResponses }
    },
    config: perClientLimit
  }, async (request, reply) => {
    const principal = principalOf(request)
    const owner = request.query.ClientId ?? principal.clientId
    if (owner !== principal.clientId && principal.role !== 'admin') {
      throw new HttpProblem('FORBIDDEN', "Only admins may read other clients' tickets")
    }
    if (!app.redis.isReady()) throw unavailable()
    const waitSeconds = preferredWaitSeconds(request.headers.prefer)
    const wait = waitSeconds > 0 ? recordWaiter.waitFor(ticketKey(owner, request.params.TicketId), waitSeconds * 1000) : undefined
    try {
      if (wait !== undefined) void reply.header('preference-applied', `wait=${waitSeconds}`)
      return sendTicket(reply, await currentAnswer(owner, request.params.TicketId, wait))
    } finally {
      wait?.cancel()
    }
  })
}

export default requestOutRoutes
