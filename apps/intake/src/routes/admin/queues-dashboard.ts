import type { FastifyPluginAsync } from 'fastify'
import { createBullBoard } from '@bull-board/api'
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter'
import { FastifyAdapter } from '@bull-board/fastify'
import type { TicketJob } from '@request-out/contracts'

export const QUEUES_PATH = '/admin/queues'

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
    options: { uiConfig: { boardTitle: 'Request Out' } }
  })
  await app.register(serverAdapter.registerPlugin(), { prefix: QUEUES_PATH })
}

export default queuesDashboard
