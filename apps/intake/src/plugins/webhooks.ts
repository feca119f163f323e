import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { Queue } from 'bullmq'
import { bullmqTelemetry } from '@request-out/tracing'
import {
  DELIVERY_JOB_NAME, DeliveryState, EndpointStore, deliveryJobOptions, retrySchedule, type DeliveryJob
} from '@request-out/webhooks'
import { redisKeys, ticketKey } from '@request-out/redis-keys'

/** A re-send of one event is queued at most once in this window. */
const RESEND_WINDOW_MS = 60_000

declare module 'fastify' {
  interface FastifyInstance {
    webhooks: ReturnType<typeof createWebhooks>
  }
}

/** The intake's side of webhooks: clients' endpoints, the tickets' delivery logs, and re-sends. */
function createWebhooks (app: FastifyInstance) {
  const { env } = app.config
  const { name, prefix } = redisKeys(env.QUEUE_PREFIX).webhookQueue
  const queue = new Queue<DeliveryJob>(name, { connection: app.redis.producer, prefix, telemetry: bullmqTelemetry() })
  queue.on('error', (err) => app.log.debug({ err }, 'webhook queue error'))
  const schedule = retrySchedule(env.WEBHOOK_RETRY_SCHEDULE)
  const state = new DeliveryState(app.redis.producer, env.QUEUE_PREFIX, env.RECORD_TTL_SECONDS)
  return {
    endpoints: new EndpointStore(app.redis.producer, env.QUEUE_PREFIX),
    state,
    queue,
    /** Queues the ticket's last event again (same webhook-id and body, as an erasure left it); its id, or undefined when it has none. */
    async resend (clientId: string, ticketId: string): Promise<string | undefined> {
      const frozen = await state.frozen(ticketKey(clientId, ticketId))
      if (frozen === undefined) return undefined
      // One re-send of an event per minute: more in the same minute are that one (BullMQ ignores
      // an add under a job id it holds), so a client cannot multiply deliveries and their retries.
      const minute = Math.floor(Date.now() / RESEND_WINDOW_MS)
      const { webhookId, type, timestamp } = frozen
      await queue.add(DELIVERY_JOB_NAME, { clientId, ticketId, webhookId, type, timestamp }, { jobId: `${frozen.webhookId}.resend.${minute}`, ...deliveryJobOptions(schedule) })
      return frozen.webhookId
    }
  }
}

async function webhooksPlugin (app: FastifyInstance): Promise<void> {
  const webhooks = createWebhooks(app)
  app.decorate('webhooks', webhooks)
  app.addHook('onClose', async () => { await webhooks.queue.close() })
}

export default fp(webhooksPlugin, { name: 'webhooks', dependencies: ['config', 'redis'], fastify: '5.x' })
