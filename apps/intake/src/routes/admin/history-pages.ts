import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply } from 'fastify'
import {
  AdminAuditSearchForm, AdminBulkCancelForm, AdminTicketActionForm, AdminTicketSearchForm, AuditQuery, BulkCancelFilter,
  TicketHistoryParams, TicketSearchQuery
} from '@request-out/contracts'
import { HttpProblem } from '../../http-problem.js'
import type { Operator } from '../../plugins/ticket-history.js'
import { sessionPrincipal } from './admin-session.js'
import { toQuery } from './form-query.js'
import { detailFields, failureReason, recordInApiOrder } from './ticket-view.js'
import { ticketKey } from '@request-out/redis-keys'

/**
 * The operator's history pages: ticket search, a ticket's timeline with its actions, and the audit
 * trail. Rendered on the server from the same service as the admin API (`app.ticketHistory`).
 */
const historyPages: FastifyPluginAsyncTypebox = async (app) => {
  const { ticketHistory, ticketQueues } = app
  const operator = (request: Parameters<typeof sessionPrincipal>[0]): Operator =>
    ({ actor: sessionPrincipal(request)?.clientId ?? 'unknown', address: request.ip })

  /** A history that cannot be read is a page saying so (503), not an error envelope. */
  async function render (reply: FastifyReply, view: string, data: () => Promise<Record<string, unknown>>, base: Record<string, unknown>): Promise<FastifyReply> {
    try {
      return await reply.view(view, { ...base, ...(await data()) })
    } catch (err) {
      if (!(err instanceof HttpProblem)) throw err
      return await reply.code(err.statusCode).view(view, { ...base, error: err.message })
    }
  }

  app.get('/admin/tickets', { schema: { hide: true, querystring: AdminTicketSearchForm } }, async (request, reply) => {
    const { query, problems } = toQuery<TicketSearchQuery>(TicketSearchQuery, request.query)
    const base = { form: request.query, rows: [], next: null, csrf: reply.generateCsrf() }
    if (query === undefined) return await reply.code(400).view('tickets.eta', { ...base, error: problems.join('; ') })
    return await render(reply, 'tickets.eta', async () => {
      const page = await ticketHistory.search(query)
      const next = page.nextCursor === null ? null : `?${new URLSearchParams({ ...request.query, Cursor: page.nextCursor }).toString()}`
      return { rows: page.rows, next }
    }, base)
  })

  /** The ticket's job, when its queue still has it, and whether an operator may retry it. */
  async function jobOf (product: string, clientId: string, ticketId: string): Promise<{ url: string, state: string, retryable: boolean } | undefined> {
    const queue = ticketQueues.queueFor(product)
    const job = await queue?.getJob(ticketKey(clientId, ticketId))
    if (queue === undefined || job === undefined) return undefined
    const state = await job.getState()
    const retryable = (await app.operatorActions.retryRefusal(job)) === undefined
    return { url: `/admin/queues/queue/${encodeURIComponent(queue.name)}/${encodeURIComponent(job.id ?? '')}`, state, retryable }
  }

  app.get('/admin/tickets/:ClientId/:TicketId', { schema: { hide: true, params: TicketHistoryParams } }, async (request, reply) => {
    const { ClientId, TicketId } = request.params
    const base = { ticket: null, job: undefined, csrf: reply.generateCsrf(), done: (request.query as { done?: string }).done }
    return await render(reply, 'ticket.eta', async () => {
      const ticket = await ticketHistory.detail(ClientId, TicketId)
      const deliveries = await app.webhooks.state.attempts(ticketKey(ClientId, TicketId))
      const resendable = await app.webhooks.state.frozen(ticketKey(ClientId, TicketId)) !== undefined
      return {
        ticket,
        record: ticket.Record === null ? null : JSON.stringify(recordInApiOrder(ticket.Record), null, 2),
        timeline: ticket.Timeline.map((e) => ({ ...e, fields: detailFields(e.Details) })),
        reason: failureReason(ticket),
        job: await jobOf(ticket.Product, ClientId, TicketId),
        deliveries,
        resendable
      }
    }, { ...base, deliveries: [], resendable: false, timeline: [] })
  })

  const ticketPage = (clientId: string, ticketId: string, done: string): string =>
    `/admin/tickets/${encodeURIComponent(clientId)}/${encodeURIComponent(ticketId)}?done=${done}`

  app.post('/admin/tickets/:ClientId/:TicketId/retry', {
    schema: { hide: true, params: TicketHistoryParams, body: AdminTicketActionForm },
    preHandler: app.csrfProtection
  }, async (request, reply) => {
    const { ClientId, TicketId } = request.params
    const detail = await ticketHistory.detail(ClientId, TicketId)
    await app.operatorActions.retry(operator(request), ClientId, TicketId, detail.Product)
    return reply.redirect(ticketPage(ClientId, TicketId, 'retry'), 303)
  })

  app.post('/admin/tickets/:ClientId/:TicketId/resend', {
    schema: { hide: true, params: TicketHistoryParams, body: AdminTicketActionForm },
    preHandler: app.csrfProtection
  }, async (request, reply) => {
    const { ClientId, TicketId } = request.params
    if (await app.operatorActions.resendWebhook(operator(request), ClientId, TicketId) === undefined) throw new HttpProblem('NOT_FOUND', 'This ticket has no webhook event to send again')
    return reply.redirect(ticketPage(ClientId, TicketId, 'resend'), 303)
  })

  app.post('/admin/tickets/:ClientId/:TicketId/erase', {
    schema: { hide: true, params: TicketHistoryParams, body: AdminTicketActionForm },
    preHandler: app.csrfProtection
  }, async (request, reply) => {
    const { ClientId, TicketId } = request.params
    await ticketHistory.erase(ClientId, TicketId, operator(request))
    return reply.redirect(ticketPage(ClientId, TicketId, 'erase'), 303)
  })

  app.post('/admin/tickets/:ClientId/:TicketId/cancel', {
    schema: { hide: true, params: TicketHistoryParams, body: AdminTicketActionForm },
    preHandler: app.csrfProtection
  }, async (request, reply) => {
    const { ClientId, TicketId } = request.params
    const admin = sessionPrincipal(request)
    if (admin === undefined) throw new HttpProblem('UNAUTHORIZED')
    const answered = await app.ticketIntake.cancel(admin, TicketId, ClientId, 0, request.log, request.ip)
    if (answered.kind === 'problem') throw answered.problem
    return reply.redirect(ticketPage(ClientId, TicketId, 'cancel'), 303)
  })

  // Bulk cancellation: the form counts first (a dry run), then the operator confirms that count.
  app.post('/admin/cancellations', {
    schema: { hide: true, body: AdminBulkCancelForm },
    preHandler: app.csrfProtection
  }, async (request, reply) => {
    const admin = sessionPrincipal(request)
    if (admin === undefined) throw new HttpProblem('UNAUTHORIZED')
    const { csrf: _csrf, DryRun, ...fields } = request.body
    const { query: filter, problems } = toQuery<BulkCancelFilter>(BulkCancelFilter, fields)
    const base = { form: request.body, csrf: reply.generateCsrf(), rows: [], next: null }
    if (filter === undefined) return await reply.code(400).view('tickets.eta', { ...base, form: {}, error: problems.join('; ') })
    const dryRun = DryRun === 'true'
    const result = await app.ticketIntake.cancelMatching(admin, filter, dryRun, request.log, request.ip)
    if (result instanceof HttpProblem) throw result
    return await reply.view('cancellations.eta', { ...base, filter, dryRun, ...result })
  })

  app.get('/admin/audit', { schema: { hide: true, querystring: AdminAuditSearchForm } }, async (request, reply) => {
    const { query, problems } = toQuery<AuditQuery>(AuditQuery, request.query)
    const base = { form: request.query, rows: [], next: null, csrf: reply.generateCsrf() }
    if (query === undefined) return await reply.code(400).view('audit.eta', { ...base, error: problems.join('; ') })
    return await render(reply, 'audit.eta', async () => {
      const [page, chain] = await Promise.all([ticketHistory.audit(query), ticketHistory.auditChain()])
      const next = page.nextCursor === null ? null : `?${new URLSearchParams({ ...request.query, Cursor: page.nextCursor }).toString()}`
      return { rows: page.rows.map((r) => ({ ...r, change: JSON.stringify({ before: r.Before, after: r.After }) })), next, chain }
    }, base)
  })
}

export default historyPages
