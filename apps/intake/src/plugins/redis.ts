import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { closeRedis, createRedis, isRedisReady, monitorConnection, type RedisClient } from '@request-out/redis-connection'

declare module 'fastify' {
  interface FastifyInstance {
    redis: ReturnType<typeof createConnections>
  }
}

function createConnections (app: FastifyInstance) {
  const target = app.config.redis
  // Producer: fails fast so requests answer 503 instead of hanging while Redis is away.
  const producer = createRedis(target, 'producer', 'request-out:intake')
  // Subscriber: waits and re-subscribes; wakes long polls when records are stored.
  const subscriber = createRedis(target, 'subscriber', 'request-out:intake:records')
  monitorConnection(producer, app.log, 'producer')
  // Errors only: the eviction check and recovery notes would repeat the producer's.
  subscriber.on('error', (err: Error) => app.log.debug({ err }, 'redis subscriber connection error'))
  return {
    producer,
    subscriber,
    isReady: (): boolean => isRedisReady(producer),
    all: (): RedisClient[] => [producer, subscriber]
  }
}

async function redisPlugin (app: FastifyInstance): Promise<void> {
  const connections = createConnections(app)
  app.decorate('redis', connections)
  app.addHook('onClose', async () => {
    await Promise.all(connections.all().map(closeRedis))
  })
}

export default fp(redisPlugin, { name: 'redis', dependencies: ['config'], fastify: '5.x' })
