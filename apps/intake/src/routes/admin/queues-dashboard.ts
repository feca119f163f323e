import type { FastifyPluginAsync } from 'fastify'
import { createBullBoard } from '@bull-board/api'
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter'
import { FastifyAdapter } from '@bull-board/fastify'
import type { TicketJob } from '@request-out/contracts'
import { dashboardGuard } from './dashboard-guard.js'

const QUEUES_PATH = '/admin/queues'

/** bull-board, one entry per product queue. It has no auth of its own: the admin context guards it. */
const queuesDashboard: FastifyPluginAsync = async (app) => {
  const serverAdapter = new FastifyAdapter()
  serverAdapter.setBasePath(QUEUES_PATH)
  createBullBoard({
    queues: app.ticketQueues.all().map(([key, queue]) => {
      // Fair sharing queues waiting tickets by priority, so bull-board lists them as PRIORITIZED
      // with a priority badge: the description says so, and where a client's ticket is found.
      const adapter = new BullMQAdapter(queue, {
        description: `${app.config.catalog.get(key)?.name ?? key}. Waiting tickets show as "prioritized" (fair sharing orders them); ` +
          "find a client's ticket on the Tickets page (/admin/tickets)."
      })
      // Ticket input may hold personal data (NIK, images): operators see the ticket, not the data.
      adapter.setFormatter('data', (data: TicketJob) => ({ ...data, ...(data.Data === undefined ? {} : { Data: '[redacted]' }) }))
      return adapter
    }),
    serverAdapter,
    options: {
      uiConfig: {
        boardTitle: 'Request Out',
        hideDocsLink: true,
        // Back to our own pages from every bull-board page; /admin/logout (GET) asks before it logs out.
        miscLinks: [
          { text: 'Products', url: '/admin/products' }, { text: 'Tickets', url: '/admin/tickets' }, { text: 'Webhooks', url: '/admin/webhooks' },
          { text: 'Audit', url: '/admin/audit' }, { text: 'Log out', url: '/admin/logout' }
        ]
      },
      handlerHooks: { before: dashboardGuard(app) }
    }
  })
  // bull-board's page asks Google for a web font, which the CSP blocks (a console error on every
  // page, and a request to a third party): the page goes out without that link, in the system font.
  app.addHook('onSend', async (_request, reply, payload) => {
    if (typeof payload !== 'string' || !String(reply.getHeader('content-type') ?? '').startsWith('text/html')) return payload
    return payload.replace(/<link href="https:\/\/fonts\.googleapis\.com\/[^"]*" rel="stylesheet">/g, '')
  })
  await app.register(serverAdapter.registerPlugin(), { prefix: QUEUES_PATH })
}

export default queuesDashboard
