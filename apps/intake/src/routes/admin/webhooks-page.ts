import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { AdminTicketActionForm } from '@request-out/contracts'
import { HttpProblem } from '../../http-problem.js'
import { sessionPrincipal } from './admin-session.js'

const ClientParams = Type.Object({ ClientId: Type.String({ minLength: 1, maxLength: 256 }) }, { additionalProperties: false })

/** The operators' webhooks page: every client's endpoint, its recent success rate, and its switch (audited). */
const webhooksPage: FastifyPluginAsyncTypebox = async (app) => {
  const { endpoints, state } = app.webhooks

  app.get('/admin/webhooks', { schema: { hide: true } }, async (_request, reply) => {
    const rows = await Promise.all((await endpoints.list()).map(async ({ clientId, endpoint }) => {
      const recent = await state.recent(clientId)
      const total = recent.ok + recent.failed
      return { clientId, endpoint, recent, rate: total === 0 ? null : Math.round(recent.ok / total * 100) }
    }))
    return await reply.view('webhooks.eta', { rows, csrf: reply.generateCsrf() })
  })

  for (const [path, enabled] of [['enable', true], ['disable', false]] as const) {
    app.post(`/admin/webhooks/:ClientId/${path}`, {
      schema: { hide: true, params: ClientParams, body: AdminTicketActionForm },
      preHandler: app.csrfProtection
    }, async (request, reply) => {
      const { ClientId } = request.params
      const before = await endpoints.get(ClientId)
      if (before === undefined) throw new HttpProblem('NOT_FOUND', `No webhook endpoint of ${ClientId}`)
      await app.audit({
        actor: sessionPrincipal(request)?.clientId ?? 'unknown',
        address: request.ip,
        action: enabled ? 'webhook.enable' : 'webhook.disable',
        target: `webhook:${ClientId}`,
        before: { Enabled: before.Enabled },
        after: { Enabled: enabled }
      })
      await endpoints.setEnabled(ClientId, enabled, enabled ? null : 'disabled by an operator')
      return reply.redirect('/admin/webhooks', 303)
    })
  }
}

export default webhooksPage
