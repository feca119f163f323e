import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { ErrorEnvelope, StreamTokenRequest, StreamTokenResponse, successEnvelope } from '@request-out/contracts'
import { HttpProblem } from '../../http-problem.js'
import { actingFor, principalOf } from '../../plugins/auth.js'

const errors = { 400: ErrorEnvelope, 401: ErrorEnvelope, 403: ErrorEnvelope, 415: ErrorEnvelope, 503: ErrorEnvelope }

/** Stream tokens: what a browser's EventSource passes as ?stream_token= instead of the Bearer header it cannot send. */
const streamTokenRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.post('/stream-tokens', {
    schema: {
      tags: ['events'],
      summary: 'A short-lived, read-only token for one ticket\'s event stream (TicketId) or for all of the caller\'s events',
      description: 'Valid STREAM_TOKEN_TTL_SECONDS (never longer than the token asking), passed as ?stream_token= to ' +
        'GET /v1/request-out/{TicketId}/events or GET /v1/events; every other route refuses it. Revoked with its user. ' +
        'Admins may ask one for another client with ClientId. Query values stay out of the intake\'s logs; a proxy\'s own logs are not covered.',
      security: [{ bearerAuth: [] }],
      body: StreamTokenRequest,
      response: { 200: StreamTokenResponse, ...errors }
    }
  }, async (request) => {
    if (request.token === undefined) throw new HttpProblem('UNAUTHORIZED')
    const clientId = actingFor(principalOf(request), request.body.ClientId, "ask stream tokens for other clients' events")
    return successEnvelope(app.streamTokens.issue(request.token, { clientId, ticketId: request.body.TicketId }))
  })
}

export default streamTokenRoutes
