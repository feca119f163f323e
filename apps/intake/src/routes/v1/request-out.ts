import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'
import {
  BatchRequest, BatchResponse, ErrorEnvelope, OwnerQuery, PreferHeader, TicketEnvelope, TicketParams, TicketRequest, successEnvelope
} from '@request-out/contracts'
import { HttpProblem, RETRY_AFTER_SECONDS } from '../../http-problem.js'
import { principalOf } from '../../plugins/auth.js'
import type { TicketAnswer } from '../../tickets/answer.js'
import type { QuotaState } from '../../quota.js'
import { preferredWaitSeconds } from '../../prefer-wait.js'

const errorResponses = {
  400: ErrorEnvelope,
  401: ErrorEnvelope,
  403: ErrorEnvelope,
  413: ErrorEnvelope,
  415: ErrorEnvelope,
  429: ErrorEnvelope,
  500: ErrorEnvelope,
  503: ErrorEnvelope
}
const ticketResponses = {
  200: TicketEnvelope, 404: TicketEnvelope, 409: TicketEnvelope, 410: TicketEnvelope, 422: TicketEnvelope, 502: TicketEnvelope
}

declare module 'fastify' {
  interface FastifyRequest {
    /** A submission's quota state, for the RateLimit fields. */
    quotaState: QuotaState | undefined
  }
}

/** Sends what the ticket service answered (a problem through the one error handler); its outcomes are counted by the metrics hook. */
function send (request: FastifyRequest, reply: FastifyReply, answer: TicketAnswer): FastifyReply {
  if (answer.metric !== undefined) request.ticketOutcomes = [answer.metric]
  if (answer.quota !== undefined) request.quotaState = answer.quota
  if (answer.kind === 'problem') throw answer.problem
  for (const [name, value] of Object.entries(answer.headers)) void reply.header(name, value)
  return reply.code(answer.envelope.StatusCode).send(answer.envelope)
}

interface Policy { name: string, quota: number, windowSeconds: number, remaining: number, resetSeconds: number }

/**
 * The IETF RateLimit fields (draft-ietf-httpapi-ratelimit-headers, RateLimit-Policy and RateLimit)
 * for whichever limit is closest to being hit: the per-client request rate or the ticket quota.
 */
function rateLimitFields (request: FastifyRequest, reply: FastifyReply, limit: number, windowSeconds: number): void {
  const policies: Policy[] = []
  const r = request.rateState
  if (r !== undefined) policies.push({ name: 'requests', quota: limit, windowSeconds, remaining: r.remaining, resetSeconds: r.resetSeconds })
  const q = request.quotaState
  if (q !== undefined) policies.push({ name: 'tickets', quota: q.limit, windowSeconds: q.windowSeconds, remaining: q.remaining, resetSeconds: q.resetSeconds })
  const closest = policies.sort((a, b) => a.remaining / a.quota - b.remaining / b.quota)[0]
  if (closest === undefined) return
  void reply.header('ratelimit-policy', `"${closest.name}";q=${closest.quota};w=${closest.windowSeconds}`)
  void reply.header('ratelimit', `"${closest.name}";r=${Math.max(0, closest.remaining)};t=${Math.max(0, closest.resetSeconds)}`)
}

const requestOutRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { env, benchOff } = app.config
  app.decorateRequest('quotaState', undefined)
  if (!benchOff.has('ratelimit-fields')) {
    app.addHook('onSend', async (request, reply, payload) => {
      rateLimitFields(request, reply, app.clientRate.limit, app.clientRate.windowSeconds)
      return payload
    })
  }
  // The per-client rate limit, after authentication and body validation (a batch counts its tickets itself).
  const perClientLimit = benchOff.has('rate-limit')
    ? async (): Promise<void> => {}
    : async (request: FastifyRequest): Promise<void> => { await app.clientRate.limitRequest(request) }

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
    config: { countsTickets: true },
    preHandler: perClientLimit
  }, async (request, reply) => send(request, reply, await app.ticketIntake.submit(principalOf(request), request.body, {
    requestId: request.id,
    waitSeconds: preferredWaitSeconds(request.headers.prefer),
    log: request.log,
    annotate: (fields) => { request.logFields = fields }
  })))

  app.post('/request-out/batch', {
    schema: {
      tags: ['request-out'],
      summary: 'Submit up to 1,000 tickets: each answered as a single POST of it would be, in request order',
      description: 'Data.Results holds one entry per ticket (TicketId, StatusCode, Code, Message, Errors). The per-client rate ' +
        'limit counts tickets; Retry-After is set when any ticket got 429 or 503. Prefer: wait does not apply.',
      security: [{ bearerAuth: [] }],
      body: BatchRequest,
      response: { 200: BatchResponse, ...errorResponses }
    },
    bodyLimit: env.BATCH_BODY_LIMIT_BYTES
  }, async (request, reply) => {
    const batch = await app.ticketIntake.submitBatch(principalOf(request), request.body.Tickets, {
      requestId: request.id, waitSeconds: 0, log: request.log
    })
    if (batch instanceof HttpProblem) throw batch
    // As a single POST's: its tickets' outcomes are counted by the metrics hook, and the batch
    // counts against the rate limit, so the RateLimit fields tell where the client stands.
    request.ticketOutcomes = batch.metrics
    request.rateState = batch.rate
    // The soonest time any refused ticket may come back: the next probe of an open breaker, or a moment for a 429 or 503.
    const after = Math.min(batch.breakerRetryAfter ?? Infinity, batch.retryAfter ? Number(RETRY_AFTER_SECONDS) : Infinity)
    if (after !== Infinity) void reply.header('retry-after', String(after))
    return successEnvelope({ Results: batch.results })
  })

  app.get('/request-out/:TicketId', {
    schema: {
      tags: ['request-out'],
      summary: "A ticket's record, or the seed's in-process answer while it is not ready",
      description: 'Admins may read another client\'s ticket with ?ClientId=. Supports Prefer: wait=N (long poll).',
      security: [{ bearerAuth: [] }],
      params: TicketParams,
      querystring: OwnerQuery,
      headers: PreferHeader,
      response: { ...ticketResponses, ...errorResponses }
    },
    preHandler: perClientLimit
  }, async (request, reply) => {
    const principal = principalOf(request)
    return send(request, reply, await app.ticketIntake.read(principal, request.params.TicketId, request.query.ClientId ?? principal.clientId, preferredWaitSeconds(request.headers.prefer)))
  })

  app.delete('/request-out/:TicketId', {
    schema: {
      tags: ['request-out'],
      summary: 'Cancel a ticket',
      description: 'Answers 202 CANCELLING: a queued ticket is taken out at once, a running one is stopped by its worker, and ' +
        'the ticket ends with a 410 CANCELLED record. With Prefer: wait=N, answers as GET would once final. A ticket with its ' +
        'record answers 409 TICKET_FINAL (with the record), a cancelled one 410 again, an unknown one 404. Admins may cancel ' +
        'another client\'s ticket with ?ClientId=.',
      security: [{ bearerAuth: [] }],
      params: TicketParams,
      querystring: OwnerQuery,
      headers: PreferHeader,
      response: { 202: TicketEnvelope, ...ticketResponses, ...errorResponses }
    },
    preHandler: perClientLimit
  }, async (request, reply) => {
    const principal = principalOf(request)
    return send(request, reply, await app.ticketIntake.cancel(principal, request.params.TicketId, request.query.ClientId ?? principal.clientId,
      preferredWaitSeconds(request.headers.prefer), request.log, request.ip))
  })
}

export default requestOutRoutes
