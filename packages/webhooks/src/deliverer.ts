import { DelayedError, UnrecoverableError, type Job } from 'bullmq'
import { Agent, buildConnector, request } from 'undici'
import { guardedConnector, guardedLookup } from './address-policy.js'
import type { DeliveryState } from './delivery-state.js'
import { signingSecrets, type EndpointStore } from './endpoint-store.js'
import { signature } from './signing.js'
import { SlotTurns } from './slot-turns.js'
import { DeliveryFailure, retryAfterMs, type DeliveryJob } from './webhook-queue.js'
import { ticketKey } from '@request-out/redis-keys'

/** Bytes of a receiver's answer read at most (and never stored): enough for a status line's worth. */
const BODY_CAP = 1024
/** An in-flight place's lease beyond the timeout: the connect, the answer's first KB and the release. */
const SLOT_MARGIN_MS = 5000
/** How long a delivery waits in the worker for one of its endpoint's places before going back to the queue. */
const PLACE_WAIT_MS = 1000
/** How often the first waiting delivery tries again (places given back by other workers). */
const PLACE_POLL_MS = 20

interface DelivererLog {
  info: (obj: object, msg: string) => void
  warn: (obj: object, msg: string) => void
}

export interface DelivererOptions {
  endpoints: EndpointStore
  state: DeliveryState
  timeoutMs: number
  maxInFlight: number
  allowPrivate: boolean
  log: DelivererLog
  /** Told of every attempt: its outcome (`delivered`, `failed`, `gone`, `refused`, `skipped`) and duration. */
  observe: (outcome: string, seconds: number) => void
  /** Told of every delivery that found its endpoint's places taken: whether a place came while it waited here, or it goes back to the queue. */
  placeWaited: (outcome: 'placed' | 'requeued') => void
}

/** Reads at most BODY_CAP bytes of the answer, then lets the rest go. */
async function drain (body: AsyncIterable<Buffer> & { destroy: () => void }): Promise<void> {
  let read = 0
  for await (const chunk of body) {
    read += chunk.length
    if (read >= BODY_CAP) break
  }
  body.destroy()
}

/**
 * Delivers one event to its client's endpoint: signed (Standard Webhooks), to the address the
 * guarded lookup allowed, no redirects followed, within the timeout. 2xx ends it; 410 ends it and
 * disables the endpoint; anything else is retried on the schedule (or after Retry-After). Each
 * endpoint has a bound on deliveries in flight and a circuit breaker: over either, the delivery
 * waits (not an attempt): for a place, in this worker first (SlotTurns), then in the queue. Every
 * attempt is logged on its ticket.
 */
export function webhookDeliverer (options: DelivererOptions) {
  const { endpoints, state, log } = options
  const turns = new SlotTurns({ waitMs: PLACE_WAIT_MS, pollMs: PLACE_POLL_MS })
  const agent = new Agent({
    connect: guardedConnector(buildConnector({ lookup: guardedLookup(options.allowPrivate), timeout: options.timeoutMs }), options.allowPrivate),
    headersTimeout: options.timeoutMs,
    bodyTimeout: options.timeoutMs,
    keepAliveTimeout: 10_000
  })
  const wait = async (job: Job<DeliveryJob>, token: string | undefined, ms: number): Promise<never> => {
    await job.moveToDelayed(Date.now() + ms, token)
    throw new DelayedError()
  }

  /**
   * One POST to the endpoint: its status (null: no answer) and error, within the timeout, and how
   * long it took. `answered` is called as soon as the receiver has answered (its headers are here).
   */
  const post = async (url: string, d: DeliveryJob, body: string, signingSecret: string[], answered: () => void): Promise<{ status: number | null, error: string | null, retryAfter: number | undefined, seconds: number }> => {
    // The time of this attempt (receivers refuse old timestamps against replays); id and body stay the event's.
    const timestamp = Math.floor(Date.now() / 1000)
    const started = process.hrtime.bigint()
    const seconds = (): number => Number(process.hrtime.bigint() - started) / 1e9
    try {
      const res = await request(url, {
        dispatcher: agent,
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'request-out-webhooks',
          'webhook-id': d.webhookId,
          'webhook-timestamp': String(timestamp),
          'webhook-signature': signature(signingSecret, d.webhookId, timestamp, body)
        },
        body,
        signal: AbortSignal.timeout(options.timeoutMs)
      })
      answered()
      const retryAfter = retryAfterMs(res.headers['retry-after'])
      await drain(res.body)
      return { status: res.statusCode, error: null, retryAfter, seconds: seconds() }
    } catch (err) {
      return { status: null, error: err instanceof Error ? `${err.name}: ${err.message}`.slice(0, 200) : 'delivery failed', retryAfter: undefined, seconds: seconds() }
    }
  }

  /** One of the endpoint's places: at once, or after waiting here for a turn (within PLACE_WAIT_MS). */
  const place = async (clientId: string, jobId: string): Promise<boolean> => {
    const acquire = async (): Promise<boolean> => await state.acquireSlot(clientId, jobId, options.maxInFlight, options.timeoutMs + SLOT_MARGIN_MS)
    if (await acquire()) return true
    const startedAt = Date.now()
    for (let again = false; await turns.turn(clientId, startedAt, again); again = true) {
      if (await acquire()) {
        turns.next(clientId)
        options.placeWaited('placed')
        return true
      }
    }
    options.placeWaited('requeued')
    return false
  }

  const deliver = async (job: Job<DeliveryJob>, token?: string): Promise<string> => {
    const d = job.data
    const ticket = ticketKey(d.clientId, d.ticketId)
    const [endpoint, frozen] = await Promise.all([endpoints.get(d.clientId), d.body === undefined ? state.event(ticket, d.webhookId) : undefined])
    if (endpoint === undefined || !endpoint.Enabled) {
      options.observe('skipped', 0)
      return 'skipped: no enabled endpoint'
    }
    const jobId = job.id ?? d.webhookId
    const body = d.body ?? frozen?.body
    if (body === undefined) {
      options.observe('skipped', 0)
      return 'skipped: the event is no longer kept (RECORD_TTL_SECONDS)'
    }
    const breaker = await state.breaker(d.clientId)
    if (!breaker.go) return await wait(job, token, Math.max(100, breaker.untilMs - Date.now()))
    // The place is held for the POST alone (it bounds what is open at the receiver), leased for the
    // timeout and a margin: a worker killed mid-delivery holds it that long at most. Taken after the
    // breaker's read, not before: in a busy worker every round trip inside the hold kept places
    // taken while nothing was open at the receiver, and the cap turned healthy deliveries away.
    if (!await place(d.clientId, jobId)) {
      if (breaker.probe) await state.returnProbe(d.clientId).catch(() => {})
      return await wait(job, token, 200 + Math.floor(Math.random() * 300))
    }
    // Given back once, as soon as the receiver has answered (before its body is read).
    let released: Promise<void> | undefined
    const release = async (): Promise<void> => {
      await (released ??= state.releaseSlot(d.clientId, jobId).catch(() => {}).finally(() => { turns.given(d.clientId) }))
    }
    let outcome: Awaited<ReturnType<typeof post>>
    try {
      outcome = await post(endpoint.Url, d, body, signingSecrets(endpoint), () => { void release() })
    } catch (err) {
      await release()
      throw err
    }
    const { status, error, retryAfter, seconds } = outcome
    const attempt = job.attemptsMade + 1
    const delivered = status !== null && status >= 200 && status < 300
    // The attempt's writes go beside the place's release (when no answer came, the release itself).
    await Promise.all([
      release(),
      state.logAttempt(ticket, {
        At: new Date().toISOString(), WebhookId: d.webhookId, Type: d.type, Attempt: attempt, Status: status, Error: error, DurationMs: Math.round(seconds * 1000)
      }).catch(() => {}),
      delivered ? state.succeeded(d.clientId) : state.failed(d.clientId)
    ])
    if (delivered) {
      options.observe('delivered', seconds)
      return 'delivered'
    }
    if (status === 410) {
      await endpoints.setEnabled(d.clientId, false, 'the receiver answered 410 Gone', 'receiver')
      options.observe('gone', seconds)
      log.warn({ clientId: d.clientId, webhookId: d.webhookId }, 'webhook endpoint answered 410: disabled')
      throw new UnrecoverableError('the receiver answered 410 Gone: endpoint disabled')
    }
    options.observe(error?.startsWith('AddressRefused') === true ? 'refused' : 'failed', seconds)
    log.info({ clientId: d.clientId, webhookId: d.webhookId, attempt, status, error }, 'webhook delivery failed; it is retried')
    throw new DeliveryFailure(status === null ? (error ?? 'no answer') : `the receiver answered ${status}`, retryAfter)
  }
  return Object.assign(deliver, { close: async () => agent.close() })
}
