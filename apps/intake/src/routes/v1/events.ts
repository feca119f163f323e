import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { fastifySSE } from '@fastify/sse'
import { Type } from '@sinclair/typebox'
import {
  ClientEventsQuery, ErrorEnvelope, LastEventIdHeader, TicketEnvelope, TicketEventsQuery, TicketParams, TicketStreamEvent, notReadyEnvelope
} from '@request-out/contracts'
import { HttpProblem } from '../../http-problem.js'
import { actingFor, principalOf } from '../../plugins/auth.js'
import type { VerifiedStreamToken } from '../../plugins/stream-tokens.js'
import { SseChannel } from '../../event-streams/sse-channel.js'
import { ticketStream } from '../../event-streams/ticket-stream.js'
import { clientStream } from '../../event-streams/client-stream.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** Set when an event route was opened with ?stream_token= instead of a Bearer token. */
    streamToken: VerifiedStreamToken | undefined
  }
}

const HEARTBEAT_MS = 15_000
/** What sends an open stream, given its channel and told of each event it sends (the metric). */
interface StreamRun { stream: (channel: SseChannel, counted: () => void) => void }
const errors = { 400: ErrorEnvelope, 401: ErrorEnvelope, 403: ErrorEnvelope, 429: ErrorEnvelope, 503: ErrorEnvelope }
const eventStream = {
  description: 'text/event-stream: one frame per event (event: its type, id:, data: TicketStreamEvent), `: heartbeat` comments every 15 s, ' +
    'and `event: resync` (data: ResyncEvent) when it cannot resume',
  content: { 'text/event-stream': { schema: TicketStreamEvent } }
}

/**
 * The event routes (SSE): a Bearer token, or a stream token in the query (browsers' EventSource
 * cannot send headers). Outside the /v1 Bearer context for that reason; nothing else takes a
 * stream token.
 */
const eventRoutes: FastifyPluginAsyncTypebox = async (app) => {
  await app.register(fastifySSE, { heartbeatInterval: HEARTBEAT_MS })
  app.decorateRequest('streamToken', undefined)
  app.addHook('onRequest', async (request) => {
    if (request.headers.authorization !== undefined) {
      const token = app.auth.verifiedToken(request.headers.authorization)
      request.principal = token.principal
      request.token = token
      return
    }
    const raw = (request.query as { stream_token?: unknown } | undefined)?.stream_token
    if (typeof raw !== 'string') throw new HttpProblem('UNAUTHORIZED')
    request.streamToken = app.streamTokens.verified(raw)
    request.principal = request.streamToken.principal
  })
  const perClientLimit = async (request: FastifyRequest): Promise<void> => { await app.clientRate.limitRequest(request) }
  const counted = (): void => { app.metrics.sseEvents.inc() }

  /**
   * Takes the caller's place for one more stream, reads what the stream starts from (`prepare`,
   * which may answer otherwise instead: a 204, a 404), and holds the stream open from then on; the
   * place is given back on every path that opens none.
   */
  async function serve (request: FastifyRequest, reply: FastifyReply, route: 'ticket' | 'client', prepare: () => Promise<StreamRun | (() => Promise<unknown>)>): Promise<void> {
    const token = request.streamToken ?? request.token
    if (token === undefined) throw new HttpProblem('UNAUTHORIZED')
    const slot = await app.eventStreams.admit(principalOf(request).clientId)
    let run
    try {
      run = await prepare()
    } catch (err) {
      slot.release()
      throw err
    }
    if (!('stream' in run)) {
      slot.release()
      await run()
      return
    }
    const channel = new SseChannel(reply)
    app.eventStreams.hold(channel, slot, route, { claims: token.claims, tokenId: token.tokenId })
    channel.start()
    run.stream(channel, counted)
  }

  app.get('/request-out/:TicketId/events', {
    sse: { kind: 'manual' },
    config: { eventStream: true },
    schema: {
      tags: ['events'],
      summary: 'A ticket\'s events as they happen (Server-Sent Events)',
      description: 'The ticket\'s events so far, then new ones: accepted, try-failed, redriven, cancel-requested, record. Ends after the record ' +
        '(any record, PRODUCT_FAILED too) unless follow=true. Resumes after Last-Event-ID (an event id) on any intake; 204 when nothing more will come. ' +
        'Past what the event streams and the history keep: one `event: resync` (read the ticket with GET). Unknown ticket: 404 as GET. ' +
        'Admins may read another client\'s with ClientId. Browsers: ?stream_token= (POST /v1/stream-tokens).',
      security: [{ bearerAuth: [] }, { streamToken: [] }],
      params: TicketParams,
      querystring: TicketEventsQuery,
      headers: LastEventIdHeader,
      response: { 200: eventStream, 204: Type.Null({ description: 'Nothing more will come (the record was seen): EventSource stops reconnecting' }), 404: TicketEnvelope, ...errors }
    },
    preHandler: perClientLimit
  }, async (request, reply) => {
    const { TicketId: ticketId } = request.params
    const scope = request.streamToken?.scope
    let owner: string
    if (scope !== undefined) {
      if (scope.ticketId !== undefined && scope.ticketId !== ticketId) throw new HttpProblem('FORBIDDEN', 'This stream token is for another ticket')
      if (request.query.ClientId !== undefined && request.query.ClientId !== scope.clientId) throw new HttpProblem('FORBIDDEN', 'This stream token is for another client')
      owner = scope.clientId
    } else {
      owner = actingFor(principalOf(request), request.query.ClientId, "read other clients' tickets")
    }
    await serve(request, reply, 'ticket', async () => {
      const stream = await ticketStream(app, { owner, ticketId, follow: request.query.follow === true, lastEventId: request.headers['last-event-id'] })
      if (stream.kind === 'stream') return { stream: stream.run }
      return async () => stream.kind === 'empty' ? await reply.code(204).send(null) : await reply.code(404).send(notReadyEnvelope('NOT_FOUND'))
    })
  })

  app.get('/events', {
    sse: { kind: 'manual' },
    config: { eventStream: true },
    schema: {
      tags: ['events'],
      summary: 'Every event of the caller\'s tickets as it happens (Server-Sent Events)',
      description: 'From now on, or after Last-Event-ID: each frame\'s id: is an opaque cursor (at most 1 KB) that resumes the stream on any ' +
        'intake within EVENT_STREAM_RETENTION_SECONDS; past it one `event: resync`. The event\'s own id is data.Id. Filter with Product ' +
        'and Type. Browsers: ?stream_token= of a token asked without TicketId.',
      security: [{ bearerAuth: [] }, { streamToken: [] }],
      querystring: ClientEventsQuery,
      headers: LastEventIdHeader,
      response: { 200: eventStream, ...errors }
    },
    preHandler: perClientLimit
  }, async (request, reply) => {
    const scope = request.streamToken?.scope
    if (scope?.ticketId !== undefined) throw new HttpProblem('FORBIDDEN', 'This stream token is for one ticket\'s events')
    const owner = scope?.clientId ?? principalOf(request).clientId
    await serve(request, reply, 'client', async () => ({
      stream: await clientStream(app, {
        owner,
        product: request.query.Product,
        types: request.query.Type === undefined ? undefined : new Set(request.query.Type.split(',')),
        lastEventId: request.headers['last-event-id']
      })
    }))
  })
}

export default eventRoutes
