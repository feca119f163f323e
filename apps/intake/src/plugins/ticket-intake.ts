import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { defineQuotaCommands } from '../quota.js'
import { ticketBatches } from '../tickets/batch.js'
import { ticketCancellation } from '../tickets/cancel.js'
import { ticketReads } from '../tickets/read.js'
import { ticketSubmission } from '../tickets/submit.js'
import { ticketValidation } from '../tickets/validation.js'

declare module 'fastify' {
  interface FastifyInstance {
    ticketIntake: ReturnType<typeof createTicketIntake>
  }
}

/**
 * The intake's decisions about tickets, without HTTP (src/tickets/): submit (validation,
 * entitlement, admission, the claim, the enqueue), batches, reads and long polls, cancellation.
 * Routes hand them the request's parts and send what they answer.
 */
function createTicketIntake (app: FastifyInstance) {
  defineQuotaCommands(app.redis.producer)
  const validation = ticketValidation(app.config.catalog, app.config.env.BODY_LIMIT_BYTES)
  const reads = ticketReads(app)
  const submit = ticketSubmission(app, reads, validation)
  const { cancel, cancelMatching } = ticketCancellation(app, reads)
  return { submit, submitBatch: ticketBatches(app, submit, validation), read: reads.read, cancel, cancelMatching }
}

async function ticketIntakePlugin (app: FastifyInstance): Promise<void> {
  app.decorate('ticketIntake', createTicketIntake(app))
}

export default fp(ticketIntakePlugin, {
  name: 'ticket-intake',
  dependencies: ['config', 'redis', 'records', 'history', 'audit', 'ticket-queues', 'availability', 'auth', 'client-rate'],
  fastify: '5.x'
})
