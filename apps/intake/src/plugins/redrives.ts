import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { RedriveStore } from '@request-out/redrive'

declare module 'fastify' {
  interface FastifyInstance {
    /** Redrives: selected here, sent back by the workers' runners; started and stopped through the operator actions. */
    redrives: RedriveStore
  }
}

async function redrivesPlugin (app: FastifyInstance): Promise<void> {
  app.decorate('redrives', new RedriveStore(app.redis.producer, app.config.env.QUEUE_PREFIX, app.config.env.REDRIVE_MAX_AGE_DAYS, app.config.catalog.keys()))
}

export default fp(redrivesPlugin, { name: 'redrives', dependencies: ['config', 'redis'], fastify: '5.x' })
