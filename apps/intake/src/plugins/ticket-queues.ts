import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { Queue } from 'bullmq'
import { TICKET_JOB_NAME, type TicketJob } from '@request-out/contracts'
import { isRedisUnavailable } from '@request-out/redis-connection'
import { QUEUE_STATES, type QueueCounts } from '@request-out/runtime'
import { retryPolicy, type Product } from '@request-out/product-catalog'
import { bullmqTelemetry, untraced } from '@request-out/tracing'
import { defineFairShareCommands, fairPriorities, returnFairTurn } from '@request-out/fair-share'
import { redisKeys, ticketKey } from '@request-out/redis-keys'

declare module 'fastify' {
  interface FastifyInstance {
    ticketQueues: ReturnType<typeof createTicketQueues>
  }
}

type Counts = QueueCounts

// Depth is read at most once a second per product: the overload check must not cost a Redis
// round trip per POST. Between reads, this intake adds its own enqueues to the last count, so a
// burst cannot pass MAX_QUEUE_DEPTH (see `reserve`).
const DEPTH_REFRESH_MS = 1000

/** This intake's enqueues of one product: started, finished, and how many had finished when the counts were last read. */
interface Adds { started: number, finished: number, finishedAtRead: number }

// Counts older than this are not trusted: the overload guard refuses (fails closed) until a read succeeds.
const STALE_AFTER_MS = 10 * DEPTH_REFRESH_MS

/** Turns asked for in one tick by one client on one product: taken with one script call. */
interface TurnRequests { product: string, clientId: string, waiters: Array<{ resolve: (p: number) => void, reject: (err: unknown) => void }> }

function createTicketQueues (app: FastifyInstance) {
  const { env, catalog } = app.config
  const keys = redisKeys(env.QUEUE_PREFIX)
  // The bench's cost table: jobs go to BullMQ's plain wait list, without a turn.
  const noFairShare = app.config.benchOff.has('fair-share')
  const queues = new Map<string, Queue<TicketJob>>()
  const counts = new Map<string, Counts>()
  const workers = new Map<string, number>()
  const adds = new Map<string, Adds>()
  const readAt = new Map<string, number>()
  let staleReported = false
  let tick = 0
  defineFairShareCommands(app.redis.producer)
  // A batch's tickets, or one client's concurrent POSTs, take their turns together: the requests of
  // one tick are sent at its end, still within the round trip of the claims sent beside them
  // (ioredis sends its pipeline on setImmediate).
  let turnRequests = new Map<string, TurnRequests>()
  // Untraced: the call serves every request of the tick, and would land in the first one's trace.
  const sendTurnRequests = (): void => untraced(() => {
    const asked = turnRequests
    turnRequests = new Map()
    for (const { product, clientId, waiters } of asked.values()) {
      fairPriorities(app.redis.producer, keys, product, clientId, waiters.length).then(
        (turns) => waiters.forEach((w, i) => w.resolve(turns[i] as number)),
        (err: unknown) => waiters.forEach((w) => w.reject(err)))
    }
  })
  for (const product of catalog.list()) {
    const { name, prefix } = keys.productQueue(product.key)
    // One shared fail-fast connection for every product queue of this process.
    const queue = new Queue<TicketJob>(name, { connection: app.redis.producer, prefix, telemetry: bullmqTelemetry() })
    // Connection errors repeat per reconnect attempt; the connection monitor tells the outage once.
    queue.on('error', (err) => {
      if (isRedisUnavailable(err)) app.log.debug({ err, product: product.key }, 'queue error while Redis is unreachable')
      else app.log.warn({ err, product: product.key }, 'queue error')
    })
    queues.set(product.key, queue)
    adds.set(product.key, { started: 0, finished: 0, finishedAtRead: 0 })
  }

  /**
   * Waiting jobs as of the last read, plus this intake's enqueues that the read may not have seen:
   * every one not finished before the read began (counted twice at worst, never missed).
   */
  const backlog = (key: string): number => {
    const c = counts.get(key)
    const a = adds.get(key)
    const read = c === undefined ? 0 : c.waiting + c.delayed + c.prioritized
    return read + (a === undefined ? 0 : a.started - a.finishedAtRead)
  }

  async function refreshCounts (): Promise<void> {
    if (!app.redis.isReady()) return
    // Worker counts come from CLIENT LIST, which costs more than the counts: every 5th tick.
    const withWorkers = tick++ % 5 === 0
    await Promise.all([...queues].map(async ([key, queue]) => {
      const a = adds.get(key)
      const finishedBeforeRead = a?.finished ?? 0
      try {
        counts.set(key, (await queue.getJobCounts(...QUEUE_STATES)) as Counts)
        readAt.set(key, Date.now())
        if (a !== undefined) a.finishedAtRead = finishedBeforeRead
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
     * Takes a place in the product's queue for one enqueue, or returns false when the queue holds
     * `limit` waiting jobs already. Checked and taken in one synchronous step, so concurrent POSTs
     * cannot all pass the same check. Every place taken is given back by `enqueue` or `release`.
     */
    reserve (key: string, limit: number): boolean {
      const a = adds.get(key)
      if (a === undefined || backlog(key) >= limit) return false
      const lastRead = readAt.get(key)
      if (lastRead !== undefined && Date.now() - lastRead > STALE_AFTER_MS) {
        if (!staleReported) app.log.warn({ product: key, countsAgeMs: Date.now() - lastRead }, 'queue counts are stale: refusing new tickets until they can be read')
        staleReported = true
        return false
      }
      staleReported = false
      a.started++
      return true
    },
    /** Gives back a place that was not used (the ticket needed no job). */
    release (key: string): void {
      const a = adds.get(key)
      if (a !== undefined) a.started--
    },
    /**
     * Fairness `client`: the client's turn among the product's clients, as the priority of its next
     * job. Taken before the ticket is claimed (the two share a round trip); a ticket that then needs
     * no job gives it back with `returnTurn`. Undefined for a product without fair sharing.
     */
    takeTurn (product: Product, clientId: string): Promise<number> | undefined {
      const queue = queues.get(product.key)
      if (product.fairness !== 'client' || queue === undefined || noFairShare) return undefined
      const key = `${product.key}\n${clientId}`
      let requests = turnRequests.get(key)
      if (requests === undefined) {
        if (turnRequests.size === 0) process.nextTick(sendTurnRequests)
        requests = { product: product.key, clientId, waiters: [] }
        turnRequests.set(key, requests)
      }
      const waiters = requests.waiters
      const turn = new Promise<number>((resolve, reject) => waiters.push({ resolve, reject }))
      // Awaited by enqueue or returnTurn; a failure shows there, not as an unhandled rejection.
      turn.catch(() => {})
      return turn
    },
    async returnTurn (product: Product, clientId: string, turn: Promise<number>): Promise<void> {
      if (queues.has(product.key)) await returnFairTurn(app.redis.producer, keys, product.key, clientId, await turn)
    },
    /**
     * Adds the ticket's job in a place taken by `reserve`, at the priority of its turn (fair
     * sharing). The job id is the ticket's own id, so BullMQ ignores a second add of the same ticket
     * while its job exists: concurrent or repeated POSTs never enqueue twice.
     */
    async enqueue (product: Product, job: TicketJob, turn?: Promise<number>): Promise<void> {
      const queue = queues.get(product.key)
      const a = adds.get(product.key)
      if (queue === undefined || a === undefined) throw new Error(`no queue for product ${product.key}`)
      try {
        const priority = turn === undefined ? undefined : await turn
        await queue.add(TICKET_JOB_NAME, job, { jobId: ticketKey(job.ClientId, job.TicketId), ...retryPolicy.jobOptions(product), ...(priority === undefined ? {} : { priority }) })
        a.finished++
      } catch (err) {
        a.started--
        throw err
      }
    },
    /** Jobs waiting to run (not counting running ones): the last read plus this intake's enqueues since. */
    backlog,
    /** Places taken by `reserve` and not yet given back by `enqueue` or `release`: adds under way (0 when idle). */
    placesHeld (key: string): number {
      const a = adds.get(key)
      return a === undefined ? 0 : a.started - a.finished
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
