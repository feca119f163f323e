import { setTimeout as sleep } from 'node:timers/promises'
import { Job, type Queue } from 'bullmq'
import { parseProductKey, TICKET_JOB_NAME, type TicketJob } from '@request-out/contracts'
import type { Logger } from 'pino'
import { defineFairShareCommands, fairPriorities } from '@request-out/fair-share'
import { retryPolicy, type Product } from '@request-out/product-catalog'
import { TicketField, type RecordStore } from '@request-out/record-store'
import type { RedisClient } from '@request-out/redis-connection'
import { redisKeys, ticketKey } from '@request-out/redis-keys'
import type { KeptForRedrive, RedriveEntry } from './redrive-selection.js'
import { holdLeaseScript } from './scripts/hold-lease.js'

export interface RedriveRunnerOptions {
  redis: RedisClient
  prefix: string
  recordStore: RecordStore
  /** The product's queue (any catalog product: a runner sends back tickets of products it does not serve too), or undefined when the catalog has none. */
  queueFor: (product: string) => Queue | undefined
  /** The catalog's product (its Attempts and backoff for a job made again). */
  productOf: (product: string) => Product | undefined
  /** True for a product whose clients take turns (Fairness "client"): a ticket sent back takes a new turn. */
  fairShared: (product: string) => boolean
  /** False while an admin's switch has the product off: its tickets are skipped. */
  available: (product: string) => Promise<boolean>
  /** Waiting jobs of a product above which the runner waits (so clients' POSTs are never refused because of a redrive). */
  maxQueueDepth: number
  /** The most tickets a redrive sends back per second: the workers' and Redis' time goes to clients' tickets first. */
  ticketsPerSecond: number
  /** This process, as the lease names it. */
  holder: string
  /** Told of each ticket sent back or skipped (the metric). */
  counted: (state: 'queued' | 'skipped') => void
  log: Logger
}

/** Tickets handled per round: the cursor and the lease move after each. */
const PAGE = 100
/** Tickets of a page sent back at once. */
const AT_ONCE = 10
const LEASE_MS = 15_000
const POLL_MS = 1000
const BACKLOG_WAIT_MS = 500

/**
 * Sends each selected ticket of every running redrive back to its queue, once. Runs in every
 * worker; a redrive is run by the one process holding its lease, which moves its cursor after each
 * page, so another takes it over from there when that process dies. Once per ticket whatever
 * happens in between: a ticket is marked in the redrive's `queued` set (with the time) before its
 * job is retried, and a ticket found marked is sent again only if its job is still the failure the
 * redrive found (it failed before the mark).
 */
export class RedriveRunner {
  readonly #o: RedriveRunnerOptions
  readonly #keys
  #timer: NodeJS.Timeout | undefined
  #running: Promise<void> | undefined
  #stopped = false

  constructor (options: RedriveRunnerOptions) {
    this.#o = options
    this.#keys = redisKeys(options.prefix)
    holdLeaseScript.define(options.redis)
    defineFairShareCommands(options.redis)
  }

  start (): void {
    this.#timer = setInterval(() => { this.#running ??= this.#tick().finally(() => { this.#running = undefined }) }, POLL_MS)
    this.#timer.unref()
  }

  async stop (): Promise<void> {
    this.#stopped = true
    clearInterval(this.#timer)
    await this.#running
  }

  async #tick (): Promise<void> {
    try {
      for (const id of await this.#o.redis.zrange(this.#keys.redrives, 0, -1)) {
        if (this.#stopped) return
        if (await this.#lease(id)) await this.#run(id)
      }
    } catch (err) {
      // Redis away, or a page that failed: the cursor did not move, the next round goes on from it.
      this.#o.log.warn({ err }, 'redrive round failed; it goes on at the next one')
    }
  }

  async #lease (id: string): Promise<boolean> {
    return await holdLeaseScript.run(this.#o.redis, { lease: this.#keys.redriveLease(id) }, { holder: this.#o.holder, ms: LEASE_MS })
  }

  async #run (id: string): Promise<void> {
    const { redis, log } = this.#o
    const key = this.#keys.redrive(id)
    while (!this.#stopped) {
      const [state, cursorText] = await redis.hmget(key, 'state', 'cursor')
      if (state !== 'running') {
        await redis.zrem(this.#keys.redrives, id)
        return
      }
      const cursor = Number(cursorText ?? 0)
      const page = (await redis.lrange(this.#keys.redriveTickets(id), cursor, cursor + PAGE - 1)).map((raw) => JSON.parse(raw) as RedriveEntry)
      if (page.length === 0) {
        await redis.hset(key, 'state', 'sent')
        await redis.zrem(this.#keys.redrives, id)
        log.info({ redrive: id }, 'redrive: every selected ticket handled')
        return
      }
      const pageStarted = Date.now()
      for (const product of new Set(page.map((e) => e.p))) await this.#waitForRoom(id, product)
      // Tickets are independent: a few at once, so a page costs a few round trips, not hundreds.
      for (let i = 0; i < page.length; i += AT_ONCE) await Promise.all(page.slice(i, i + AT_ONCE).map(async (entry) => { await this.#send(id, entry) }))
      await redis.hset(key, 'cursor', String(cursor + page.length))
      const paced = page.length * 1000 / this.#o.ticketsPerSecond - (Date.now() - pageStarted)
      if (paced > 0) await sleep(paced)
      if (!await this.#lease(id)) return
    }
  }

  /** Waits while the product's queue is deeper than maxQueueDepth: clients' tickets go first. */
  async #waitForRoom (id: string, product: string): Promise<void> {
    const queue = this.#o.queueFor(product)
    if (queue === undefined) return
    for (;;) {
      const counts = await queue.getJobCounts('waiting', 'prioritized')
      if (this.#stopped || (counts.waiting ?? 0) + (counts.prioritized ?? 0) <= this.#o.maxQueueDepth) return
      await sleep(BACKLOG_WAIT_MS)
      await this.#lease(id)
    }
  }

  async #skip (id: string, entry: RedriveEntry, why: string): Promise<void> {
    const skipped = this.#keys.redriveSkipped(id)
    if (await this.#o.redis.hsetnx(skipped, ticketKey(entry.c, entry.t), why) === 1) this.#o.counted('skipped')
    await this.#o.redis.expire(skipped, 30 * 86_400)
  }

  async #send (id: string, entry: RedriveEntry): Promise<void> {
    const jobId = ticketKey(entry.c, entry.t)
    const inputs = this.#keys.redriveInputs(id)
    const raw = await this.#o.redis.hget(inputs, jobId)
    await this.#sendOnce(id, entry, raw === null ? undefined : JSON.parse(raw) as KeptForRedrive)
    // Handled (sent, skipped, or sent before): the job holds the input from now on.
    if (raw !== null) await this.#o.redis.hdel(inputs, jobId)
  }

  async #sendOnce (id: string, entry: RedriveEntry, kept: KeptForRedrive | undefined): Promise<void> {
    const { redis, recordStore } = this.#o
    if (entry.s !== undefined) return await this.#skip(id, entry, entry.s)
    const jobId = ticketKey(entry.c, entry.t)
    const queue = this.#o.queueFor(entry.p)
    const product = this.#o.productOf(entry.p)
    if (queue === undefined || product === undefined) return await this.#skip(id, entry, 'its product is no longer in the catalog')
    if (!await this.#o.available(entry.p)) return await this.#skip(id, entry, 'its product is switched off')
    const queuedKey = this.#keys.redriveQueued(id)
    const markedAt = await redis.zscore(queuedKey, jobId)
    const job = await Job.fromId(queue, jobId)
    if (job === undefined) {
      if (kept === undefined) return markedAt === null ? await this.#skip(id, entry, 'its job, and with it the ticket\'s input, is no longer kept') : undefined
      if (markedAt !== null) {
        // Marked before a restart: its job was added (and is done and trimmed since), or the process
        // died before the add. The ticket tells: reopened by this redrive and still without an outcome.
        const [redrive, code] = await redis.hmget(this.#keys.ticket(entry.c, entry.t), TicketField.redrive, TicketField.code)
        if (redrive === id && code === null) await this.#add(id, entry, kept, queue, product)
        return
      }
    } else {
      if (await job.getState() !== 'failed') {
        if (markedAt === null) await this.#skip(id, entry, 'it is no longer failed (retried since)')
        return
      }
      // Marked, and failed after the mark: sent before a restart, and failed again since.
      if (markedAt !== null && (job.finishedOn ?? 0) >= Number(markedAt)) return
    }
    const reopened = await recordStore.reopenForRedrive(entry.c, entry.t, entry.a, id, kept === undefined ? undefined : { fingerprint: kept.f, product: entry.p })
    if (reopened === 'gone') return await this.#skip(id, entry, 'Redis no longer holds the ticket')
    if (reopened === 'newer') return await this.#skip(id, entry, 'its TicketId was accepted again since')
    if (reopened === 'final') return await this.#skip(id, entry, 'its record is final now')
    if (reopened === 'busy') return await this.#skip(id, entry, 'another redrive has it')
    if (reopened === 'erased') return await this.#skip(id, entry, 'its personal data was erased')
    if (markedAt === null) {
      await redis.zadd(queuedKey, 'NX', Date.now(), jobId)
      await redis.expire(queuedKey, 30 * 86_400)
    }
    if (job === undefined) {
      await this.#add(id, entry, kept as KeptForRedrive, queue, product)
    } else {
      const turn = await this.#turn(entry)
      if (turn !== undefined) await job.changePriority({ priority: turn })
      try {
        // A new round with the product's full Attempts and the ticket's same Idempotency-Key (its job data is unchanged).
        await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true })
      } catch (err) {
        if (await job.getState() === 'failed') throw err
      }
    }
    this.#o.counted('queued')
  }

  /** Its first POST's turn is long past: a ticket sent back queues as its client's newest, not ahead of the others. */
  async #turn (entry: RedriveEntry): Promise<number | undefined> {
    if (!this.#o.fairShared(entry.p)) return undefined
    const [turn] = await fairPriorities(this.#o.redis, this.#keys, entry.p, entry.c, 1)
    return turn
  }

  /** Adds the job of a ticket whose job Redis forgot, as its POST made it: the same acceptance, so the same Idempotency-Key. */
  async #add (id: string, entry: RedriveEntry, kept: KeptForRedrive, queue: Queue, product: Product): Promise<void> {
    const ref = parseProductKey(entry.p)
    if (ref === undefined) throw new Error(`not a product key: ${entry.p}`)
    const turn = await this.#turn(entry)
    const job: TicketJob = {
      TicketId: entry.t,
      ...ref,
      ...(kept.i.Data === undefined ? {} : { Data: kept.i.Data }),
      ClientId: entry.c,
      RequestId: `redrive-${id}`,
      AcceptedAt: entry.a,
      ClaimedAt: entry.a
    }
    await queue.add(TICKET_JOB_NAME, job, { jobId: ticketKey(entry.c, entry.t), ...retryPolicy.jobOptions(product), ...(turn === undefined ? {} : { priority: turn }) })
  }
}
