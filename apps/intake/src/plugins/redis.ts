import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { closeRedis, createRedis, describeTarget, monitorConnection, type RedisClient } from '@request-out/redis-connection'

declare module 'fastify' {
  interface FastifyInstance {
    redis: ReturnType<typeof createConnections>
  }
}

function createConnections (app: FastifyInstance) {
  const target = { ...app.config.redis, commandTimeoutMs: app.config.env.REDIS_COMMAND_TIMEOUT_MS }
  // Producer: fails fast (no offline queue, a command timeout) so requests answer 503 instead of
  // hanging while Redis is dead or hung.
  const producer = createRedis(target, 'producer', 'request-out:intake')
  // Subscriber: waits and re-subscribes; wakes long polls and carries revocations.
  const subscriber = createRedis(target, 'subscriber', 'request-out:intake:events')
  const monitor = monitorConnection(producer, app.log, {
    name: 'producer', target: describeTarget(target), probeTimeoutMs: app.config.env.REDIS_COMMAND_TIMEOUT_MS, warnPersistence: app.config.env.REDIS_PERSISTENCE_WARNING === 'on'
  })
  // The producer's monitor tells the outage; the subscriber's errors would only repeat it.
  subscriber.on('error', () => {})
  return {
    producer,
    subscriber,
    monitor,
    /** True when request-path commands may be sent now (connected, and Redis is not hanging). */
    isReady: (): boolean => monitor.usable(),
    all: (): RedisClient[] => [producer, subscriber]
  }
}

async function redisPlugin (app: FastifyInstance): Promise<void> {
  const connections = createConnections(app)
  app.decorate('redis', connections)
  // Every 503 during an outage is a refused request, whichever check refused it (a failed command,
  // or isReady() before any): counted here once, for the recovery line.
  app.addHook('onResponse', (_request, reply, done) => {
    if (reply.statusCode === 503) connections.monitor.refused()
    done()
  })
  app.addHook('onClose', async () => {
    connections.monitor.close()
    await Promise.all(connections.all().map(closeRedis))
  })
}

export default fp(redisPlugin, { name: 'redis', dependencies: ['config'], fastify: '5.x' })
