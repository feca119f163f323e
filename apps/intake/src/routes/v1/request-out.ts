import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { Type } from '@sinclair/typebox'
import { ErrorEnvelope, TicketEnvelope, TicketParams, TicketRequest } from '@request-out/contracts'
import { principalOf } from '../../plugins/auth.js'
import type { TicketAnswer } from '../../plugins/ticket-intake.js'
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
  200: TicketEnvelope, 404: TicketEnvelope, 409: TicketEnvelope, 422: TicketEnvelope, 502: TicketEnvelope
}

const PreferHeader = Type.Object({
  prefer: Type.Optional(Type.String({ description: 'wait=N (N ≤ 30): hold the answer until the ticket is final or N seconds pass' }))
})

/** Sends what the ticket service answered; its outcome is counted by the metrics hook. */
function send (request: FastifyRequest, reply: FastifyReply, answer: TicketAnswer): FastifyReply {
  if (answer.metric !== undefined) request.ticketOutcome = answer.metric
  if (answer.problem !== undefined) throw answer.problem
  for (const [name, value] of Object.entries(answer.headers)) void reply.header(name, value)
  const envelope = answer.envelope as TicketEnvelope
  return reply.code(envelope.StatusCode).send(envelope)
}

const requestOutRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { env } = app.config
  const perClientLimit = {
    rateLimit: {
      max: env.RATE_LIMIT_MAX,
      timeWindow: env.RATE_LIMIT_WINDOW_MS,
      keyGenerator: (request: { principal?: { clientId: string } | undefined, ip: string }) =>
        `client:${request.principal?.clientId ?? request.ip}`
    }
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
  }, async (request, reply) => send(request, reply, await app.ticketIntake.submit(principalOf(request), request.body, {
    requestId: request.id, waitSeconds: preferredWaitSeconds(request.headers.prefer), log: request.log
  })))

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
    return send(request, reply, await app.ticketIntake.read(principal, request.params.TicketId, request.query.ClientId ?? principal.clientId, preferredWaitSeconds(request.headers.prefer)))
  })
}

export default requestOutRoutes
