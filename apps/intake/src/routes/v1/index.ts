import type { FastifyPluginAsync } from 'fastify'
import { authenticate } from '../../plugins/auth.js'
import requestOutRoutes from './request-out.js'
import productRoutes from './products.js'
import tokenRoutes from './tokens.js'
import adminHistoryRoutes from './admin-history.js'
import cancellationRoutes from './cancellations.js'
import webhookRoutes from './webhooks.js'
import redriveRoutes from './redrives.js'
import streamTokenRoutes from './stream-tokens.js'

/** Everything under /v1 that needs a Bearer token. Public routes (login, health, docs) live outside. */
const protectedRoutes: FastifyPluginAsync = async (app) => {
  app.addHook('onRequest', authenticate)
  await app.register(requestOutRoutes)
  await app.register(productRoutes)
  await app.register(tokenRoutes)
  await app.register(adminHistoryRoutes)
  await app.register(cancellationRoutes)
  await app.register(webhookRoutes)
  await app.register(redriveRoutes)
  await app.register(streamTokenRoutes)
}

export default protectedRoutes
