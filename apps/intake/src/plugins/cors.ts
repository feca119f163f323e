import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import cors from '@fastify/cors'

/**
 * Browser pages of the origins in CORS_ORIGINS may call the API (the typed client in a browser);
 * without it, no cross-origin answer carries CORS headers. Tokens travel in the Authorization
 * header, never cookies, so credentials are not allowed.
 */
async function corsPlugin (app: FastifyInstance): Promise<void> {
  const origins = app.config.env.CORS_ORIGINS?.split(',')
  if (origins === undefined) return
  await app.register(cors, {
    origin: origins,
    methods: ['GET', 'POST', 'PUT', 'DELETE'],
    // last-event-id: a client that resumes an event stream by fetch (EventSource sends it without a preflight).
    allowedHeaders: ['authorization', 'content-type', 'prefer', 'x-request-id', 'last-event-id'],
    exposedHeaders: ['location', 'retry-after', 'preference-applied', 'ratelimit', 'ratelimit-policy', 'x-request-id'],
    maxAge: 600
  })
}

export default fp(corsPlugin, { name: 'cors', dependencies: ['config'], fastify: '5.x' })
