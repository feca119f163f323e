import type { Job } from 'bullmq'
import { DelayedError, UnrecoverableError, Worker } from 'bullmq'
import type { Logger } from 'pino'
import { Message, cancelledEnvelope, completedEnvelope, failedEnvelope, type TicketJob } from '@request-out/contracts'
import { scrubText } from '@request-out/runtime'
import { personalFields, retryPolicy, type Product } from '@request-out/product-catalog'
import { type RecordStore } from '@request-out/record-store'
import { activeTraceparent, inSpan } from '@request-out/tracing'
import { CANCELLED, type CancelListener } from './cancel-listener.js'
import type { ClientSlots } from './client-slots.js'
import { ProductRejection, UpstreamPause, type ProductHandler } from './handlers/index.js'
import { TicketCancelledError, TicketTimeoutError, upstreamOutcome } from './try-outcome.js'
import type { WorkerMetrics } from './worker-metrics.js'
import { ticketKey } from '@request-out/redis-keys'
import { idempotencyKey } from './idempotency-key.js'
import type { ProbeOutcome, ProductBreaker } from '@request-out/upstream-breaker'

export interface ProcessorDeps {
  product: Product
  handle: ProductHandler
  recordStore: RecordStore
  metrics: WorkerMetrics
  log: Logger
  /** Aborted when the worker is forced to stop: running handlers give up and their jobs are retried. */
  stopping: AbortSignal
  /** Aborts the try of a ticket cancelled while it runs. */
  cancels: CancelListener
  /** The product's ClientConcurrency, when it has one. */
  clientSlots?: ClientSlots
  /** Pauses the product on every worker for this long (the upstream's back-pressure). */
  pause: (ms: number) => Promise<void>
  /** This worker process (host:pid), named in each try's events. */
  workerId: string
  /** The product's upstream breaker, unless the catalog turns it off. */
  breaker?: ProductBreaker
}

/** How long a ticket over its client's ClientConcurrency waits before it asks again (plus up to as much jitter). */
const OVER_CAP_DELAY_MS = 250

/**
 * A failure's message as it may be stored and logged: the ticket's personal values (fields marked
 * "x-personal", plus NIK and Image), the product's secrets and any NIK-like digit run are replaced,
 * since an upstream may echo any of them back.
 */
function scrubbedReason (message: string, ticket: TicketJob, product: Pick<Product, 'personalFields' | 'secrets'>): string {
  const personal: string[] = []
  for (const field of personalFields(product)) {
    const value = ticket.Data?.[field]
    if (typeof value === 'string') personal.push(value)
  }
  return scrubText(message, [...personal, ...product.secrets])
}

export function ticketLogFields (job: Job<TicketJob>, product: string): Record<string, unknown> {
  return {
    requestId: job.data.RequestId,
    ticketId: job.data.TicketId,
    clientId: job.data.ClientId,
    product,
    jobId: job.id,
    attempt: job.attemptsMade + 1
  }
}

/**
 * Runs one try of a ticket. The record is stored before the job completes, so a poll after
 * completion always finds it; a job delivered twice finds the record and stops there.
 */
export function ticketProcessor (deps: ProcessorDeps) {
  const { product, handle, recordStore, metrics } = deps
  return async (job: Job<TicketJob>, token?: string): Promise<string> => {
    const ticket = job.data
    const log = deps.log.child(ticketLogFields(job, product.key))
    const started = process.hrtime.bigint()
    const finish = (outcome: string): void => {
      metrics.jobs.inc({ product: product.key, outcome })
      metrics.jobDuration.observe({ product: product.key, outcome }, Number(process.hrtime.bigint() - started) / 1e9)
    }

    const attempt = job.attemptsMade + 1
    // The try is named by when BullMQ made it active: the failed-job handler names it the same way.
    const timing = { startedAt: Date.now(), tries: attempt, tryId: String(job.processedOn ?? ''), worker: deps.workerId }
    const spanAttributes = { 'request_out.product': product.key, 'request_out.client_id': ticket.ClientId, 'request_out.ticket_id': ticket.TicketId, 'request_out.attempt': attempt }
    // The record write's span is what the record's webhooks continue from.
    const store = async (record: Parameters<RecordStore['writeRecord']>[2]): Promise<boolean> =>
      await inSpan('record write', spanAttributes, async () =>
        await recordStore.writeRecord(ticket.ClientId, ticket.TicketId, record, { ...timing, traceparent: activeTraceparent() }))
    // One controller per try, tied to the worker's stop signal by a listener removed in `finally`:
    // AbortSignal.any() with the long-lived stop signal kept a little memory per job on Node 20.
    // Registered first, so a cancellation heard from here on aborts it (one heard before, too).
    const controller = new AbortController()
    const unregister = deps.cancels.register(ticketKey(ticket.ClientId, ticket.TicketId), controller)
    const cancelled = async (): Promise<string> => {
      const written = await store(cancelledEnvelope(ticket))
      log.info(written ? 'ticket cancelled: cancelled record stored' : 'ticket cancelled, but its record was stored first: the record stands')
      finish('cancelled')
      return 'cancelled'
    }

    // A ticket's own job on its first run cannot have a record yet, nor a cancellation the intake
    // did not hear of; any other delivery (a retry, a job taken over from a dead worker, a copy under
    // another id) checks first, so the product is not asked twice. Skipping the check on first runs
    // saves a Redis round trip per ticket.
    const firstDelivery = job.attemptsMade === 0 && (job.stalledCounter ?? 0) === 0 && job.id === ticketKey(ticket.ClientId, ticket.TicketId)
    if (!firstDelivery) {
      const state = await recordStore.deliveryState(ticket.ClientId, ticket.TicketId)
      if (state.finalCode !== undefined) {
        unregister()
        log.info('ticket already has its record; nothing to do')
        finish('duplicate')
        return 'duplicate'
      }
      if (state.cancelRequested) controller.abort(CANCELLED)
      // Taken over after a stall: the try its dead worker left is history too (once per stall).
      const stalls = job.stalledCounter ?? 0
      if (stalls > 0) {
        await recordStore.recordLostTry(ticket.ClientId, ticket.TicketId, attempt, stalls, deps.workerId)
          .catch((e: unknown) => log.warn({ err: e }, 'could not append the lost try to the ticket events'))
      }
    }
    if (controller.signal.aborted && controller.signal.reason === CANCELLED) {
      unregister()
      return await cancelled()
    }
    const slots = deps.clientSlots
    if (slots !== undefined && !await slots.acquire(ticket.ClientId, job.id ?? '')) {
      // Over the client's cap: back to wait a moment, keeping its priority; not a try.
      unregister()
      await job.moveToDelayed(Date.now() + OVER_CAP_DELAY_MS + Math.floor(Math.random() * OVER_CAP_DELAY_MS), token)
      throw new DelayedError()
    }
    const breaker = deps.breaker
    const jobId = job.id ?? ''
    // While the breaker is closed here, admit() answers at once and nothing below awaits it.
    const gate = breaker === undefined ? 'run' : breaker.admit(jobId)
    const letGo = async (): Promise<void> => {
      unregister()
      if (slots !== undefined) await slots.release(ticket.ClientId, jobId).catch(() => {})
    }
    const decision = typeof gate === 'string' ? gate : await gate.catch(async (err: unknown) => { await letGo(); throw err })
    if (decision === 'wait') {
      // The breaker is open, or another try probes it: back to wait, the attempt not spent.
      await letGo()
      finish('held')
      throw Worker.RateLimitError()
    }
    const probing = decision === 'probe'
    let told = false
    /** Tells the breaker, once, what this try found of the upstream; a promise only for the probe, whose outcome moves the breaker. */
    const tell = (outcome: ProbeOutcome, reason: string): Promise<void> | undefined => {
      if (breaker === undefined || told) return undefined
      told = true
      if (!probing) {
        if (outcome !== 'none') breaker.count(outcome)
        return undefined
      }
      return breaker.settleProbe(jobId, outcome, reason)
        .catch((e: unknown) => log.warn({ err: e }, 'could not settle the breaker\'s probe; its lease lapses by itself'))
    }

    // A job queued before jobs carried the claim's time reads it from the ticket (then, once the
    // ticket is gone, the enqueue time is the closest there is).
    const claimedAt = ticket.ClaimedAt ?? await recordStore.acceptedAt(ticket.ClientId, ticket.TicketId) ?? ticket.AcceptedAt
    const key = idempotencyKey(ticket.ClientId, ticket.TicketId, claimedAt)
    let timedOut = false
    const timer = setTimeout(() => { timedOut = true; controller.abort() }, product.timeoutMs)
    const onStop = (): void => controller.abort()
    deps.stopping.addEventListener('abort', onStop, { once: true })
    if (deps.stopping.aborted) controller.abort()
    const signal = controller.signal
    metrics.activeJobs.inc({ product: product.key })
    try {
      const result = await new Promise<Awaited<ReturnType<ProductHandler>>>((resolve, reject) => {
        const onAbort = (): void => reject(signal.reason === CANCELLED
          ? new TicketCancelledError('the ticket was cancelled while it ran')
          : timedOut
            ? new TicketTimeoutError(`the product took longer than ${product.timeoutMs} ms`)
            : new Error('the worker is stopping'))
        if (signal.aborted) return onAbort()
        signal.addEventListener('abort', onAbort, { once: true })
        inSpan(`product ${product.key}`, spanAttributes, async () => await handle(ticket, { signal, attempt, log, idempotencyKey: key })).then(resolve, reject)
          .finally(() => signal.removeEventListener('abort', onAbort))
      })
      const telling = tell('ok', 'the probe try succeeded')
      if (telling !== undefined) await telling
      const written = await store(completedEnvelope(ticket, result))
      // Not written: another delivery of this ticket stored its record first (at-least-once).
      log.info(written ? 'ticket completed: record stored' : 'ticket completed again; the first record stands')
      finish('completed')
      return 'completed'
    } catch (err) {
      const reason = scrubbedReason(err instanceof Error ? err.message : String(err), ticket, product)
      const outcome = upstreamOutcome(err, signal, timedOut)
      const telling = tell(outcome, reason)
      if (telling !== undefined) await telling
      // Cancelled while it ran: the handler was aborted (an http product's upstream call too).
      if (err instanceof TicketCancelledError || signal.reason === CANCELLED) return await cancelled()
      if (probing && outcome === 'failed') {
        // The probe found the upstream still down: the breaker is open again and the ticket waits
        // with the others, its attempt not spent.
        log.warn({ reason }, 'the breaker\'s probe try failed: the breaker is open again, and this try is not counted')
        finish('probe-failed')
        throw Worker.RateLimitError()
      }
      if (err instanceof UpstreamPause) {
        // Every worker of the product honours the pause (each has a limiter); the job goes back to
        // wait without spending its attempt.
        const pauseMs = Math.min(err.pauseMs, product.maxPauseMs)
        await deps.pause(pauseMs)
        log.warn({ pauseMs, status: err.status }, 'the upstream asked to wait: the product is paused on every worker, and this try is not counted')
        finish('paused')
        throw Worker.RateLimitError()
      }
      if (err instanceof ProductRejection) {
        await store(failedEnvelope(ticket, 'PRODUCT_REJECTED', reason))
        log.info({ reason }, 'ticket rejected by the product')
        finish('rejected')
        // UnrecoverableError: BullMQ fails the job now, without using up the retries.
        throw new UnrecoverableError(reason)
      }
      // Every failed try is history, the last one too: why a ticket failed is never only "no retries
      // left". The event is history, not the retry: a Redis hiccup here must not change the job's fate.
      await recordStore.recordFailedTry(ticket.ClientId, ticket.TicketId, { attempt, error: reason, startedAt: timing.startedAt, worker: deps.workerId })
        .catch((e: unknown) => log.warn({ err: e }, 'could not append the failed try to the ticket events'))
      if (retryPolicy.isLastAttempt(attempt, job.opts.attempts)) {
        await store(failedEnvelope(ticket, retryPolicy.exhaustedCode, Message.PRODUCT_FAILED))
        log.warn({ reason }, 'ticket failed: no retries left')
        finish('failed')
      } else {
        log.warn({ reason }, 'ticket try failed; it will be retried')
        finish('retry')
      }
      // BullMQ stores the message as the job's failedReason (shown on the dashboard): keep it clean too.
      throw new Error(reason)
    } finally {
      clearTimeout(timer)
      unregister()
      if (slots !== undefined) await slots.release(ticket.ClientId, job.id ?? '').catch(() => {})
      deps.stopping.removeEventListener('abort', onStop)
      metrics.activeJobs.dec({ product: product.key })
    }
  }
}
