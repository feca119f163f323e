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
      const adapter = new BullMQAdapter(queue, { description: app.config.catalog.get(key)?.name ?? key })
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
        miscLinks: [{ text: 'Products', url: '/admin/products' }, { text: 'Tickets', url: '/admin/tickets' }, { text: 'Audit', url: '/admin/audit' }, { text: 'Log out', url: '/admin/logout' }]
      },
      handlerHooks: { before: dashboardGuard(app) }
    }
  })
  await app.register(serverAdapter.registerPlugin(), { prefix: QUEUES_PATH })
}

export default queuesDashboard
