import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { AdminRedriveForm, RedriveFilter, RedriveParams } from '@request-out/contracts'
import { hasRedriveScope } from '@request-out/redrive'
import { HttpProblem } from '../../http-problem.js'
import { sessionPrincipal } from './admin-session.js'
import { toQuery } from './form-query.js'

/**
 * The tickets page's redrive: the form counts first (a dry run with a sample), the operator
 * confirms that count, then a page follows its progress. The same operator action as the API's.
 */
const redrivePages: FastifyPluginAsyncTypebox = async (app) => {
  app.post('/admin/redrives', {
    schema: { hide: true, body: AdminRedriveForm },
    preHandler: app.csrfProtection
  }, async (request, reply) => {
    const admin = sessionPrincipal(request)
    if (admin === undefined) throw new HttpProblem('UNAUTHORIZED')
    const { csrf: _csrf, DryRun, ...fields } = request.body
    const { query: filter, problems } = toQuery<RedriveFilter>(RedriveFilter, fields)
    const base = { csrf: reply.generateCsrf(), filter: filter ?? {} }
    if (filter === undefined || !hasRedriveScope(filter)) {
      return await reply.code(400).view('redrive.eta', { ...base, error: problems.length > 0 ? problems.join('; ') : 'A redrive needs a product, a client or a From time' })
    }
    if (DryRun === 'true') return await reply.view('redrive.eta', { ...base, dryRun: await app.redrives.dryRun(filter) })
    const { id } = await app.operatorActions.startRedrive({ actor: admin.clientId, address: request.ip }, filter)
    if (id === undefined) return await reply.view('redrive.eta', { ...base, dryRun: { selected: 0, sample: [] } })
    return await reply.redirect(`/admin/redrives/${encodeURIComponent(id)}`, 303)
  })

  app.get('/admin/redrives/:RedriveId', { schema: { hide: true, params: RedriveParams } }, async (request, reply) => {
    const progress = await app.redrives.progress(request.params.RedriveId)
    if (progress === undefined) return await reply.code(404).view('redrive.eta', { csrf: reply.generateCsrf(), filter: {}, error: `No redrive ${request.params.RedriveId}` })
    return await reply.view('redrive.eta', { csrf: reply.generateCsrf(), filter: {}, progress })
  })

  app.post('/admin/redrives/:RedriveId/stop', {
    schema: { hide: true, params: RedriveParams },
    preHandler: app.csrfProtection
  }, async (request, reply) => {
    const admin = sessionPrincipal(request)
    if (admin === undefined) throw new HttpProblem('UNAUTHORIZED')
    await app.operatorActions.stopRedrive({ actor: admin.clientId, address: request.ip }, request.params.RedriveId)
    return await reply.redirect(`/admin/redrives/${encodeURIComponent(request.params.RedriveId)}`, 303)
  })
}

export default redrivePages
