import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import {
  EVICTION_WARNING, closeRedis, createRedis, isRedisReady, readEvictionPolicy, type RedisClient
} from '@request-out/redis-connection'

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
  let lastError = ''
  const onError = (name: string) => (err: Error): void => {
    // ioredis repeats the same error on every reconnect attempt; log each distinct one once.
    if (err.message === lastError) return
    lastError = err.message
    app.log.warn({ err, connection: name }, 'redis connection error')
  }
  producer.on('error', onError('producer'))
  subscriber.on('error', onError('subscriber'))
  producer.on('ready', () => {
    if (lastError !== '') app.log.info('redis connection ready again')
    lastError = ''
  })
  producer.once('ready', () => {
    void readEvictionPolicy(producer).then((policy) => {
      if (policy !== undefined && policy !== 'noeviction') app.log.warn({ policy }, EVICTION_WARNING)
    })
  })
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
