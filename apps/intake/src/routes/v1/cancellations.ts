import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { BulkCancelRequest, BulkCancelResponse, ErrorEnvelope, successEnvelope } from '@request-out/contracts'
import { HttpProblem } from '../../http-problem.js'
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
    const { DryRun, ...filter } = request.body
    const result = await app.ticketIntake.cancelMatching(principalOf(request), filter, DryRun, request.log, request.ip)
    if (result instanceof HttpProblem) throw result
    const { matched, cancelled } = result
    if (!DryRun) request.log.info({ filter, matched, cancelled }, 'tickets cancelled in bulk')
    return successEnvelope({ DryRun, Matched: matched, Cancelled: cancelled })
  })
}

export default cancellationRoutes
