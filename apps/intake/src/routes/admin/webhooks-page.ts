import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { AdminClientParams, AdminTicketActionForm } from '@request-out/contracts'
import { sessionPrincipal } from './admin-session.js'

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
      schema: { hide: true, params: AdminClientParams, body: AdminTicketActionForm },
      preHandler: app.csrfProtection
    }, async (request, reply) => {
      const { ClientId } = request.params
      await app.operatorActions.setWebhookEnabled({ actor: sessionPrincipal(request)?.clientId ?? 'unknown', address: request.ip }, ClientId, enabled)
      return reply.redirect('/admin/webhooks', 303)
    })
  }
}

export default webhooksPage
