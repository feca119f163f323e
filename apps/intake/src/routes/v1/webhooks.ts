import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import {
  DeliveriesResponse, DoneResponse, ErrorEnvelope, Message, OwnerQuery, ResendResponse, TicketParams, WebhookRequest, WebhookResponse, successEnvelope
} from '@request-out/contracts'
import { checkWebhookUrl, view } from '@request-out/webhooks'
import { HttpProblem, unavailable } from '../../http-problem.js'
import { actingFor, principalOf, type Principal } from '../../plugins/auth.js'
import type { Operator } from '../../plugins/ticket-history.js'
import { ticketKey } from '@request-out/redis-keys'

const errors = { 400: ErrorEnvelope, 401: ErrorEnvelope, 403: ErrorEnvelope, 404: ErrorEnvelope, 413: ErrorEnvelope, 415: ErrorEnvelope, 429: ErrorEnvelope, 503: ErrorEnvelope }

const ownerOf = (principal: Principal, clientId: string | undefined): string => actingFor(principal, clientId, "act for another client's webhook")

/**
 * A client's webhook endpoint (Standard Webhooks v1) and its tickets' deliveries. URLs are checked
 * at registration (and again at every delivery, on the address connected to): no loopback, private
 * or link-local hosts unless WEBHOOK_ALLOW_PRIVATE_NETWORKS; https in production.
 */
const webhookRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { env } = app.config
  // Every route here counts against the per-client rate limit, as the ticket routes do: a
  // rotation or a re-send is bounded by it like any request.
  app.addHook('preHandler', async (request) => { await app.clientRate.limitRequest(request) })
  const { endpoints, state } = app.webhooks
  const ready = (): void => { if (!app.redis.isReady()) throw unavailable() }
  /** An operator acting for a client, or undefined for a client's own request (its own business, not audited). */
  const operatorFor = (principal: Principal, owner: string, address: string): Operator | undefined =>
    owner === principal.clientId ? undefined : { actor: principal.clientId, address }

  app.put('/webhook', {
    schema: {
      tags: ['webhooks'],
      summary: 'Register or change the client\'s webhook endpoint; the first registration answers its signing secret, once',
      security: [{ bearerAuth: [] }],
      querystring: OwnerQuery,
      body: WebhookRequest,
      response: { 200: WebhookResponse, 201: WebhookResponse, ...errors }
    }
  }, async (request, reply) => {
    const principal = principalOf(request)
    const owner = ownerOf(principal, request.query.ClientId)
    ready()
    const refusal = await checkWebhookUrl(request.body.Url, { allowPrivate: env.WEBHOOK_ALLOW_PRIVATE_NETWORKS, requireHttps: env.NODE_ENV === 'production' })
    if (refusal !== undefined) {
      throw new HttpProblem('VALIDATION_ERROR', `${Message.VALIDATION_ERROR}: /Url ${refusal}`, {}, [{ Field: '/Url', Message: refusal }])
    }
    const { endpoint, secret } = await app.operatorActions.putWebhook(operatorFor(principal, owner, request.ip), owner, request.body.Url, request.body.Events)
    const status = secret === undefined ? 200 : 201
    return await reply.code(status).send(successEnvelope(view(endpoint, secret), status))
  })

  app.get('/webhook', {
    schema: { tags: ['webhooks'], summary: 'The client\'s webhook endpoint (never its secret)', security: [{ bearerAuth: [] }], querystring: OwnerQuery, response: { 200: WebhookResponse, ...errors } }
  }, async (request) => {
    ready()
    const endpoint = await endpoints.get(ownerOf(principalOf(request), request.query.ClientId))
    if (endpoint === undefined) throw new HttpProblem('NOT_FOUND', 'No webhook endpoint is registered')
    return successEnvelope(view(endpoint))
  })

  app.delete('/webhook', {
    schema: { tags: ['webhooks'], summary: 'Remove the client\'s webhook endpoint', security: [{ bearerAuth: [] }], querystring: OwnerQuery, response: { 200: DoneResponse, ...errors } }
  }, async (request) => {
    const principal = principalOf(request)
    const owner = ownerOf(principal, request.query.ClientId)
    ready()
    await app.operatorActions.deleteWebhook(operatorFor(principal, owner, request.ip), owner)
    return successEnvelope(null)
  })

  app.post('/webhook/rotate', {
    schema: {
      tags: ['webhooks'],
      summary: 'A new signing secret (answered once); for 24 hours the old one signs every delivery too',
      security: [{ bearerAuth: [] }],
      querystring: OwnerQuery,
      response: { 200: WebhookResponse, ...errors }
    }
  }, async (request) => {
    const principal = principalOf(request)
    const owner = ownerOf(principal, request.query.ClientId)
    ready()
    const rotated = await app.operatorActions.rotateWebhookSecret(operatorFor(principal, owner, request.ip), owner)
    return successEnvelope(view(rotated.endpoint, rotated.secret))
  })

  app.get('/request-out/:TicketId/deliveries', {
    schema: {
      tags: ['webhooks'],
      summary: 'Every delivery attempt of the ticket\'s webhook events, newest first (time, status or error, duration)',
      security: [{ bearerAuth: [] }],
      params: TicketParams,
      querystring: OwnerQuery,
      response: { 200: DeliveriesResponse, ...errors }
    }
  }, async (request) => {
    const owner = ownerOf(principalOf(request), request.query.ClientId)
    ready()
    return successEnvelope({ Deliveries: await state.attempts(ticketKey(owner, request.params.TicketId)) })
  })

  app.post('/request-out/:TicketId/deliveries', {
    schema: {
      tags: ['webhooks'],
      summary: 'Send the ticket\'s last webhook event again now (the same webhook-id and body)',
      security: [{ bearerAuth: [] }],
      params: TicketParams,
      querystring: OwnerQuery,
      response: { 202: ResendResponse, ...errors }
    }
  }, async (request, reply) => {
    const principal = principalOf(request)
    const owner = ownerOf(principal, request.query.ClientId)
    ready()
    const webhookId = await app.operatorActions.resendWebhook(operatorFor(principal, owner, request.ip), owner, request.params.TicketId)
    if (webhookId === undefined) throw new HttpProblem('NOT_FOUND', 'This ticket has no webhook event to send again')
    return await reply.code(202).send(successEnvelope({ WebhookId: webhookId }, 202))
  })
}

export default webhookRoutes
