import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { Queue } from 'bullmq'
import { TICKET_JOB_NAME, productQueue, type TicketJob } from '@request-out/contracts'
import { productJobOptions, type Product } from '@request-out/product-catalog'
import { ticketKey } from '@request-out/record-store'

declare module 'fastify' {
  interface FastifyInstance {
    ticketQueues: ReturnType<typeof createTicketQueues>
  }
}

export const QUEUE_STATES = ['waiting', 'active', 'delayed', 'prioritized', 'failed', 'completed'] as const
export type QueueState = (typeof QUEUE_STATES)[number]
type Counts = Record<QueueState, number>

// Depth is read at most once a second per product: the overload check must not cost a Redis
// round trip per POST.
const DEPTH_REFRESH_MS = 1000

function createTicketQueues (app: FastifyInstance) {
  const { env, catalog } = app.config
  const queues = new Map<string, Queue<TicketJob>>()
  const counts = new Map<string, Counts>()
  const workers = new Map<string, number>()
  let tick = 0
  for (const product of catalog.list()) {
    const { name, prefix } = productQueue(env.QUEUE_PREFIX, product.key)
    // One shared fail-fast connection for every product queue of this process.
    const queue = new Queue<TicketJob>(name, { connection: app.redis.producer, prefix })
    queue.on('error', (err) => app.log.warn({ err, product: product.key }, 'queue error'))
    queues.set(product.key, queue)
  }

  async function refreshCounts (): Promise<void> {
    if (!app.redis.isReady()) return
    // Worker counts come from CLIENT LIST, which costs more than the counts: every 5th tick.
    const withWorkers = tick++ % 5 === 0
    await Promise.all([...queues].map(async ([key, queue]) => {
      try {
        counts.set(key, (await queue.getJobCounts(...QUEUE_STATES)) as Counts)
        if (withWorkers) workers.set(key, await queue.getWorkersCount())
      } catch { /* Redis went away mid-refresh (or CLIENT LIST is not allowed); the next tick tries again. */ }
    }))
  }
  const timer = setInterval(() => { void refreshCounts() }, DEPTH_REFRESH_MS)
  timer.unref()

  return {
    queueFor (key: string): Queue<TicketJob> | undefined {
      return queues.get(key)
    },
    all (): Array<[string, Queue<TicketJob>]> {
      return [...queues]
    },
    /**
     * Adds the ticket's job. The job id is the ticket's own id, so BullMQ ignores a second add of
     * the same ticket while its job exists: concurrent or repeated POSTs never enqueue twice.
     */
    async enqueue (product: Product, job: TicketJob): Promise<void> {
      const queue = queues.get(product.key)
      if (queue === undefined) throw new Error(`no queue for product ${product.key}`)
      await queue.add(TICKET_JOB_NAME, job, { jobId: ticketKey(job.ClientId, job.TicketId), ...productJobOptions(product) })
    },
    /** Jobs waiting to run (not counting running ones), as of the last refresh. */
    backlog (key: string): number {
      const c = counts.get(key)
      return c === undefined ? 0 : c.waiting + c.delayed + c.prioritized
    },
    counts (key: string): Counts | undefined {
      return counts.get(key)
    },
    workers (key: string): number | undefined {
      return workers.get(key)
    },
    refreshCounts,
    async close (): Promise<void> {
      clearInterval(timer)
      await Promise.allSettled([...queues.values()].map(async (q) => q.close()))
    }
  }
}

async function ticketQueuesPlugin (app: FastifyInstance): Promise<void> {
  const ticketQueues = createTicketQueues(app)
  app.decorate('ticketQueues', ticketQueues)
  app.addHook('onClose', async () => ticketQueues.close())
}

export default fp(ticketQueuesPlugin, { name: 'ticket-queues', dependencies: ['config', 'redis'], fastify: '5.x' })
