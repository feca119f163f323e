import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import rateLimit from '@fastify/rate-limit'
import { HttpProblem } from '../http-problem.js'

/**
 * Rate limits counted in Redis, so every intake shares them. Routes opt in through
 * `config.rateLimit` with their own key (per client, or per username and address for login).
 * Checked in preHandler, after authentication and body validation have given us the key.
 */
async function rateLimitPlugin (app: FastifyInstance): Promise<void> {
  await app.register(rateLimit, {
    global: false,
    hook: 'preHandler',
    redis: app.redis.producer,
    nameSpace: `${app.config.env.QUEUE_PREFIX}:rate:`,
    // A Redis outage must not turn into 500s here; the route itself answers 503 if it needs Redis.
    skipOnError: true,
    errorResponseBuilder: () => new HttpProblem('RATE_LIMITED')
  })
}

export default fp(rateLimitPlugin, { name: 'rate-limit', dependencies: ['config', 'redis'], fastify: '5.x' })
