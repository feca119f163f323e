import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { RecordStore, RecordWaiter } from '@request-out/record-store'

declare module 'fastify' {
  interface FastifyInstance {
    recordStore: RecordStore
    recordWaiter: RecordWaiter
  }
}

async function recordsPlugin (app: FastifyInstance): Promise<void> {
  const { env } = app.config
  app.decorate('recordStore', new RecordStore(app.redis.producer, { prefix: env.QUEUE_PREFIX, ttlSeconds: env.RECORD_TTL_SECONDS }))
  const waiter = new RecordWaiter(app.redis.subscriber, env.QUEUE_PREFIX)
  app.decorate('recordWaiter', waiter)
  // Not awaited: the intake starts (and answers 503) while Redis is away; ioredis subscribes once it connects.
  waiter.start().catch((err: unknown) => app.log.warn({ err }, 'record notifications not subscribed yet'))
  // Long polls answer at once with the current state instead of holding the shutdown.
  app.addHook('preClose', async () => waiter.releaseAll())
}

export default fp(recordsPlugin, { name: 'records', dependencies: ['config', 'redis'], fastify: '5.x' })
