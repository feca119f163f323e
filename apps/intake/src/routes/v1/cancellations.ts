import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { BulkCancelRequest, BulkCancelResponse, ErrorEnvelope, SeedMessage, Status } from '@request-out/contracts'
import { principalOf, requireAdmin } from '../../plugins/auth.js'

const errors = { 400: ErrorEnvelope, 401: ErrorEnvelope, 403: ErrorEnvelope, 413: ErrorEnvelope, 415: ErrorEnvelope, 429: ErrorEnvelope, 503: ErrorEnvelope }

/** Operators' bulk cancellation (admin Bearer tokens): a dry run counts, the real one is audited. */
const cancellationRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.post('/admin/cancellations', {
    schema: {
      tags: ['admin'],
      summary: 'Cancel every unfinished ticket matching product, client and state (admin; DryRun: true counts them first)',
      security: [{ bearerAuth: [] }],
      body: BulkCancelRequest,
      response: { 200: BulkCancelResponse, ...errors }
    },
    preHandler: requireAdmin
  }, async (request) => {
    const admin = principalOf(request)
    const { DryRun, ...filter } = request.body
    if (!DryRun) {
      const { matched } = await app.ticketIntake.cancelMatching(admin, filter, true, request.log)
      await app.audit({ actor: admin.clientId, address: request.ip, action: 'tickets.cancel', target: JSON.stringify(filter), before: { matched }, after: filter })
    }
    const { matched, cancelled } = await app.ticketIntake.cancelMatching(admin, filter, DryRun, request.log)
    if (!DryRun) request.log.info({ filter, matched, cancelled }, 'tickets cancelled in bulk')
    return { Status: Status.SUCCESS, Message: SeedMessage.SUCCESS, Data: { DryRun, Matched: matched, Cancelled: cancelled }, StatusCode: 200 }
  })
}

export default cancellationRoutes
