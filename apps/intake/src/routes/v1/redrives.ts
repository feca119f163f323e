import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { ErrorEnvelope, RedriveParams, RedriveRequest, RedriveResponse, RedriveStartResponse, successEnvelope } from '@request-out/contracts'
import { hasRedriveScope } from '@request-out/redrive'
import { HttpProblem } from '../../http-problem.js'
import { principalOf, requireAdmin } from '../../plugins/auth.js'

const errors = { 400: ErrorEnvelope, 401: ErrorEnvelope, 403: ErrorEnvelope, 404: ErrorEnvelope, 413: ErrorEnvelope, 415: ErrorEnvelope, 429: ErrorEnvelope, 503: ErrorEnvelope }

/** Redrives of tickets that failed for lack of an answer (admin Bearer tokens): a dry run first, then the real one, its progress and its stop. */
const redriveRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.post('/admin/redrives', {
    schema: {
      tags: ['admin'],
      summary: 'Send the tickets that ended PRODUCT_FAILED back to their upstream (admin; DryRun: true, the default, counts them first)',
      security: [{ bearerAuth: [] }],
      body: RedriveRequest,
      response: { 200: RedriveStartResponse, 202: RedriveStartResponse, ...errors }
    },
    preHandler: requireAdmin
  }, async (request, reply) => {
    const { DryRun, ...filter } = request.body
    if (!hasRedriveScope(filter)) {
      throw new HttpProblem('VALIDATION_ERROR', 'A redrive needs at least one of Product, ClientId and From', {}, [{ Field: '/Product', Message: 'Product, ClientId or From is required' }])
    }
    if (DryRun) {
      const { selected, sample } = await app.redrives.dryRun(filter)
      return successEnvelope({ RedriveId: null, DryRun: true, Selected: selected, Sample: sample })
    }
    const operator = { actor: principalOf(request).clientId, address: request.ip }
    const { id, selected, sample } = await app.operatorActions.startRedrive(operator, filter)
    if (id !== undefined) {
      request.log.info({ redrive: id, filter, selected }, 'redrive started')
      void reply.code(202)
    }
    return successEnvelope({ RedriveId: id ?? null, DryRun: false, Selected: selected, Sample: sample })
  })

  app.get('/admin/redrives/:RedriveId', {
    schema: { tags: ['admin'], summary: 'A redrive\'s progress (admin)', security: [{ bearerAuth: [] }], params: RedriveParams, response: { 200: RedriveResponse, ...errors } },
    preHandler: requireAdmin
  }, async (request) => {
    const progress = await app.redrives.progress(request.params.RedriveId)
    if (progress === undefined) throw new HttpProblem('NOT_FOUND', `No redrive ${request.params.RedriveId}`)
    return successEnvelope(progress)
  })

  app.delete('/admin/redrives/:RedriveId', {
    schema: { tags: ['admin'], summary: 'Stop a redrive (admin): tickets it sent back stay queued', security: [{ bearerAuth: [] }], params: RedriveParams, response: { 200: RedriveResponse, ...errors } },
    preHandler: requireAdmin
  }, async (request) => {
    const operator = { actor: principalOf(request).clientId, address: request.ip }
    return successEnvelope(await app.operatorActions.stopRedrive(operator, request.params.RedriveId))
  })
}

export default redriveRoutes
