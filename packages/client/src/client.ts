import { StillInProcess, Unauthorized, Unavailable, UnexpectedAnswer, errorFor } from './errors.js'
import type {
  ApiEnvelope, BatchResult, ClientOptions, DeliveryAttempt, ProductView, RedriveFilter, RedriveStart, RedriveView, TicketEnvelope, TicketRequest,
  TicketStreamEvent, TicketStreamEventType, WaitOptions, WebhookEventType, WebhookView
} from './types.js'
import { clientEventsPath, readEventStream, ticketEventsPath, type StreamContext } from './event-stream.js'

interface Answer { status: number, body: unknown, headers: Headers }

/** Tickets per batch request, at most. */
const MAX_BATCH = 1000
/** The longest single `Prefer: wait` the API honours, in seconds. */
const MAX_WAIT_SECONDS = 30
const sleep = (ms: number, signal?: AbortSignal): Promise<void> => new Promise((resolve, reject) => {
  const timer = setTimeout(resolve, ms)
  signal?.addEventListener('abort', () => { clearTimeout(timer); reject(signal.reason) }, { once: true })
})

/**
 * The Request Out API in one object: logs in lazily (and again when a 401 says the token is no
 * longer good), retries what is safe to retry (503, 429 RATE_LIMITED after its Retry-After,
 * network errors and timeouts; the same TicketId makes a repeated POST safe) a bounded number of
 * times with jitter, and turns every other answer into a typed error carrying the API's `Code`.
 */
export class RequestOutClient {
  readonly #base: string
  readonly #fetch: typeof fetch
  readonly #options: ClientOptions
  readonly #maxRetries: number
  readonly #timeoutMs: number
  #token: string | undefined
  #tokenExpiresAt = 0

  constructor (options: ClientOptions) {
    this.#options = options
    this.#base = options.baseUrl.replace(/\/+$/, '')
    this.#fetch = options.fetch ?? globalThis.fetch.bind(globalThis)
    this.#maxRetries = options.maxRetries ?? 6
    this.#timeoutMs = options.requestTimeoutMs ?? 45_000
    if ('token' in options) this.#token = options.token
  }

  async #tokenFor (fresh: boolean): Promise<string> {
    const o = this.#options
    if ('getToken' in o) return await o.getToken()
    if ('token' in o) return o.token
    if (!fresh && this.#token !== undefined && Date.now() < this.#tokenExpiresAt) return this.#token
    const answer = await this.#send('POST', '/v1/auth/login', { body: { Username: o.username, Password: o.password }, auth: false })
    const data = (answer.body as ApiEnvelope<{ AccessToken: string, ExpiresIn: number }>).Data
    this.#token = data.AccessToken
    // Renewed a little before it lapses, so a long wait does not start with a token about to end.
    this.#tokenExpiresAt = Date.now() + Math.max(0, data.ExpiresIn - 30) * 1000
    return this.#token
  }

  /** One API call with retries; answers the status, body and headers of what is not an error. */
  async #send (method: string, path: string, options: { body?: unknown, headers?: Record<string, string>, auth?: boolean, ok?: (status: number, body: unknown) => boolean } = {}): Promise<Answer> {
    let relogged = false
    for (let attempt = 0; ; attempt++) {
      const headers: Record<string, string> = { accept: 'application/json', ...options.headers }
      if (options.body !== undefined) headers['content-type'] = 'application/json'
      if (options.auth !== false) headers.authorization = `Bearer ${await this.#tokenFor(false)}`
      let res: Response
      try {
        res = await this.#fetch(`${this.#base}${path}`, {
          method,
          headers,
          ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
          signal: AbortSignal.timeout(this.#timeoutMs)
        })
      } catch (err) {
        if (attempt < this.#maxRetries) { await sleep(this.#backoff(attempt)); continue }
        throw new Unavailable(`no answer from ${this.#base}: ${err instanceof Error ? err.message : String(err)}`, 'UNAVAILABLE', 0, null)
      }
      const text = await res.text()
      let body: unknown = null
      try { body = text === '' ? null : JSON.parse(text) } catch { body = text }
      const retryAfter = Number(res.headers.get('retry-after') ?? Number.NaN)
      // Every answer of Request Out is an envelope with its StatusCode; anything else (a 204, a
      // proxy's HTML page, another service at this URL) is said as such, not read as a ticket.
      if (typeof (body as { StatusCode?: unknown } | null)?.StatusCode !== 'number') {
        if (res.status >= 502 && res.status <= 504 && attempt < this.#maxRetries) { await sleep(this.#backoff(attempt)); continue }
        const type = res.headers.get('content-type')?.split(';')[0] ?? 'no content type'
        const what = text === '' ? 'an empty body' : `${type}: ${JSON.stringify(text.slice(0, 80))}`
        throw new UnexpectedAnswer(`${method} ${path} answered HTTP ${res.status} with ${what}, not a Request Out answer (is ${this.#base} the Request Out API?)`, 'UNEXPECTED_ANSWER', res.status, body)
      }
      const code = (body as { Code?: string }).Code ?? ''
      if ((options.ok ?? ((s) => s < 300))(res.status, body)) return { status: res.status, body, headers: res.headers }
      if (res.status === 401 && options.auth !== false && !relogged && !('token' in this.#options)) {
        relogged = true
        await this.#tokenFor(true)
        continue
      }
      const retryable = res.status === 503 || (res.status === 429 && code === 'RATE_LIMITED')
      if (retryable && attempt < this.#maxRetries) {
        await sleep(Number.isFinite(retryAfter) ? retryAfter * 1000 + Math.random() * 250 : this.#backoff(attempt))
        continue
      }
      const message = (body as { Message?: string } | null)?.Message ?? `HTTP ${res.status}`
      if (res.status === 401) throw new Unauthorized(message, code || 'UNAUTHORIZED', 401, body)
      throw errorFor(code, res.status, message, body, Number.isFinite(retryAfter) ? retryAfter : undefined)
    }
  }

  #backoff (attempt: number): number {
    return Math.min(5000, 250 * 2 ** attempt) * (0.5 + Math.random())
  }

  /** A ticket answer: a record or an accepted / in-process one; a failure is thrown as its typed error. */
  async #ticket (method: string, path: string, waitSeconds: number | undefined, body?: unknown, extraOk: (env: TicketEnvelope) => boolean = () => false): Promise<TicketEnvelope> {
    const wait = waitSeconds === undefined ? undefined : Math.max(0, Math.min(MAX_WAIT_SECONDS, Math.floor(waitSeconds)))
    const answer = await this.#send(method, path, {
      ...(body === undefined ? {} : { body }),
      ...(wait === undefined || wait === 0 ? {} : { headers: { prefer: `wait=${wait}` } }),
      ok: (status, b) => status < 300 || (b as TicketEnvelope | null)?.Code === 'IN_PROCESS' || extraOk(b as TicketEnvelope)
    })
    return answer.body as TicketEnvelope
  }

  /** POST: the accepted ticket (202), or its record when `wait` (seconds, at most 30) is given and it is ready in time. */
  async submit (ticket: TicketRequest, options: { wait?: number } = {}): Promise<TicketEnvelope> {
    return await this.#ticket('POST', '/v1/request-out', options.wait, ticket)
  }

  /** GET: the record, or the in-process answer (`Code: "IN_PROCESS"`). */
  async get (ticketId: string, options: { wait?: number } = {}): Promise<TicketEnvelope> {
    return await this.#ticket('GET', `/v1/request-out/${encodeURIComponent(ticketId)}`, options.wait)
  }

  /** Long polls (`Prefer: wait`) until the record; throws StillInProcess when `timeoutMs` runs out. */
  async waitFor (ticketId: string, options: WaitOptions = {}): Promise<TicketEnvelope> {
    const deadline = Date.now() + (options.timeoutMs ?? 300_000)
    for (;;) {
      options.signal?.throwIfAborted()
      const left = Math.ceil((deadline - Date.now()) / 1000)
      const current = await this.get(ticketId, { wait: Math.max(1, Math.min(MAX_WAIT_SECONDS, left)) })
      if (current.Code !== 'IN_PROCESS') return current
      if (Date.now() >= deadline) throw new StillInProcess(`ticket ${ticketId} is still in process`, 'IN_PROCESS', 404, current)
      await sleep(100, options.signal)
    }
  }

  /** Submits and waits for the record in one call. */
  async submitAndWait (ticket: TicketRequest, options: WaitOptions = {}): Promise<TicketEnvelope> {
    const timeoutMs = options.timeoutMs ?? 300_000
    const first = await this.submit(ticket, { wait: Math.min(MAX_WAIT_SECONDS, Math.ceil(timeoutMs / 1000)) })
    if (first.StatusCode === 200) return first
    return await this.waitFor(ticket.TicketId, { ...options, timeoutMs: Math.max(1000, timeoutMs - MAX_WAIT_SECONDS * 1000) })
  }

  /**
   * Submits many tickets, in requests of at most 1,000: one result per ticket, in order, each what
   * a single POST of it would have answered (`StatusCode`, `Code`, `Message`, `Errors`). A request
   * answered 503 as a whole is retried like any other.
   */
  async submitBatch (tickets: TicketRequest[]): Promise<BatchResult[]> {
    const results: BatchResult[] = []
    for (let i = 0; i < tickets.length; i += MAX_BATCH) {
      const answer = await this.#send('POST', '/v1/request-out/batch', { body: { Tickets: tickets.slice(i, i + MAX_BATCH) } })
      results.push(...(answer.body as ApiEnvelope<{ Results: BatchResult[] }>).Data.Results)
    }
    return results
  }

  /** DELETE: 202 CANCELLING while under way, or (with `wait`) the final answer; a cancelled ticket throws Cancelled. */
  async cancel (ticketId: string, options: { wait?: number } = {}): Promise<TicketEnvelope> {
    return await this.#ticket('DELETE', `/v1/request-out/${encodeURIComponent(ticketId)}`, options.wait)
  }

  async products (): Promise<ProductView[]> {
    return ((await this.#send('GET', '/v1/products')).body as ApiEnvelope<{ Products: ProductView[] }>).Data.Products
  }

  /** Registers or changes the webhook; the first registration's answer carries `Secret`, once. */
  async setWebhook (url: string, events?: WebhookEventType[]): Promise<WebhookView> {
    return ((await this.#send('PUT', '/v1/webhook', { body: { Url: url, ...(events === undefined ? {} : { Events: events }) } })).body as ApiEnvelope<WebhookView>).Data
  }

  async getWebhook (): Promise<WebhookView> {
    return ((await this.#send('GET', '/v1/webhook')).body as ApiEnvelope<WebhookView>).Data
  }

  async deleteWebhook (): Promise<void> {
    await this.#send('DELETE', '/v1/webhook')
  }

  /** A new signing secret (answered once); the old one signs too for 24 hours. */
  async rotateWebhookSecret (): Promise<WebhookView> {
    return ((await this.#send('POST', '/v1/webhook/rotate')).body as ApiEnvelope<WebhookView>).Data
  }

  /**
   * Admins: what a redrive of `filter` would send back (the default), or, with `{ dryRun: false }`,
   * the redrive started (its RedriveId; null when nothing matched).
   */
  async redrive (filter: RedriveFilter, options: { dryRun?: boolean } = {}): Promise<RedriveStart> {
    return ((await this.#send('POST', '/v1/admin/redrives', { body: { ...filter, DryRun: options.dryRun ?? true } })).body as ApiEnvelope<RedriveStart>).Data
  }

  /** Admins: a redrive's progress. */
  async redriveStatus (redriveId: string): Promise<RedriveView> {
    return ((await this.#send('GET', `/v1/admin/redrives/${encodeURIComponent(redriveId)}`)).body as ApiEnvelope<RedriveView>).Data
  }

  /** Admins: stops a redrive (tickets it sent back stay queued). */
  async stopRedrive (redriveId: string): Promise<RedriveView> {
    return ((await this.#send('DELETE', `/v1/admin/redrives/${encodeURIComponent(redriveId)}`)).body as ApiEnvelope<RedriveView>).Data
  }

  /**
   * A ticket's events as they happen (Server-Sent Events): those so far, then each new one, ending
   * after its record (`follow`: stay for a redrive's). Resumes by itself after a dropped
   * connection or an intake's stop, nothing missed or repeated; throws StreamResync when the
   * server no longer holds where it was.
   */
  events (ticketId: string, options: { lastEventId?: string, follow?: boolean, signal?: AbortSignal } = {}): AsyncGenerator<TicketStreamEvent> {
    return readEventStream(this.#streamContext(ticketEventsPath(ticketId, options.follow)), { ...options, untilRecord: options.follow !== true })
  }

  /** Every event of the caller's tickets from now on (optionally one product's, some types), resuming by itself; it never ends on its own. */
  allEvents (options: { product?: string, types?: TicketStreamEventType[], lastEventId?: string, signal?: AbortSignal } = {}): AsyncGenerator<TicketStreamEvent> {
    return readEventStream(this.#streamContext(clientEventsPath(options.product, options.types)), options)
  }

  /** A short-lived, read-only token for a browser's EventSource (`?stream_token=`): one ticket's events, or all of the caller's. */
  async streamToken (ticketId?: string): Promise<{ StreamToken: string, ExpiresIn: number }> {
    return ((await this.#send('POST', '/v1/stream-tokens', { body: ticketId === undefined ? {} : { TicketId: ticketId } })).body as ApiEnvelope<{ StreamToken: string, ExpiresIn: number }>).Data
  }

  /** Submits, hands each of the ticket's events to `onEvent` as it happens, and answers its record (a failure thrown as its typed error, as `get` does). */
  async submitAndWatch (ticket: TicketRequest, options: WaitOptions & { onEvent?: (event: TicketStreamEvent) => void } = {}): Promise<TicketEnvelope> {
    const first = await this.submit(ticket)
    const timeout = AbortSignal.timeout(options.timeoutMs ?? 300_000)
    const signal = options.signal === undefined ? timeout : AbortSignal.any([timeout, options.signal])
    for await (const event of this.events(ticket.TicketId, { signal })) options.onEvent?.(event)
    return first.StatusCode === 200 ? first : await this.get(ticket.TicketId)
  }

  #streamContext (path: string): StreamContext {
    return { url: `${this.#base}${path}`, fetch: this.#fetch, token: async (fresh: boolean) => await this.#tokenFor(fresh), maxRetries: this.#maxRetries }
  }

  async deliveries (ticketId: string): Promise<DeliveryAttempt[]> {
    return ((await this.#send('GET', `/v1/request-out/${encodeURIComponent(ticketId)}/deliveries`)).body as ApiEnvelope<{ Deliveries: DeliveryAttempt[] }>).Data.Deliveries
  }
}
