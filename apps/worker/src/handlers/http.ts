import { Pool } from 'undici'
import { Value } from '@sinclair/typebox/value'
import { ProductResult } from '@request-out/contracts'
import { retryPolicy, type Product } from '@request-out/product-catalog'
import { ProductRejection, UpstreamAnswerError, UpstreamPause, type ProductHandler } from './product-handler.js'
import { backPressureMs } from './back-pressure.js'
import { IDEMPOTENCY_KEY_HEADER } from '../idempotency-key.js'

/** Told of every upstream call (the latency metric), and of an upstream that refuses a ticket's Idempotency-Key. */
export interface UpstreamObserver {
  call: (product: string, status: string, seconds: number) => void
  keyRefused: (product: string) => void
}

const NO_OBSERVER: UpstreamObserver = { call: () => {}, keyRefused: () => {} }

// The upstream's Message goes into the client's record (after scrubbing): a sentence, not a document.
const MAX_MESSAGE_LENGTH = 200

/**
 * The upstream's `Message` (or `message`) field, or a fixed sentence. Never the raw body: it may hold
 * anything, and it would reach the record and the logs. The processor scrubs what is returned here.
 */
function messageOf (body: string, status: number): string {
  try {
    const parsed = JSON.parse(body) as { Message?: unknown, message?: unknown }
    const m = parsed.Message ?? parsed.message
    if (typeof m === 'string' && m.trim() !== '') return m.trim().slice(0, MAX_MESSAGE_LENGTH)
  } catch { /* not JSON */ }
  return `the product refused the ticket (upstream answered ${status})`
}

/**
 * The `http` kind: POSTs the ticket (with ClientId and its Idempotency-Key) to the product's
 * upstream over a keep-alive pool. 2xx with a result → record; 4xx → rejection with the upstream's
 * message, but for those the retry policy retries (409: the key's first request is still being
 * processed); 5xx, timeout, network error → retry.
 */
export function httpHandler (product: Product, observe: UpstreamObserver = NO_OBSERVER): ProductHandler & { close: () => Promise<void> } {
  const settings = product.definition.Http
  if (settings === undefined) throw new Error(`product ${product.key} has no Http settings`)
  const url = new URL(settings.Url)
  const pool = new Pool(url.origin, {
    connections: settings.Connections ?? product.concurrency,
    keepAliveTimeout: 30_000,
    headersTimeout: product.timeoutMs,
    bodyTimeout: product.timeoutMs
  })
  const path = `${url.pathname}${url.search}`

  const handler = async (...[ticket, { signal, idempotencyKey, log }]: Parameters<ProductHandler>): ReturnType<ProductHandler> => {
    const started = process.hrtime.bigint()
    let status = 'error'
    try {
      const response = await pool.request({
        method: 'POST',
        path,
        signal,
        // The same key on every try of this acceptance: an upstream that deduplicates by it does the work once.
        headers: { ...settings.Headers, 'content-type': 'application/json', accept: 'application/json', [IDEMPOTENCY_KEY_HEADER]: idempotencyKey },
        body: JSON.stringify({
          TicketId: ticket.TicketId,
          Subject: ticket.Subject,
          SubjectType: ticket.SubjectType,
          SubjectIdentifier: ticket.SubjectIdentifier,
          Data: ticket.Data ?? null,
          ClientId: ticket.ClientId
        })
      })
      status = String(response.statusCode)
      const body = await response.body.text()
      const pause = backPressureMs(response.statusCode, response.headers)
      if (pause !== undefined) throw new UpstreamPause(pause, response.statusCode)
      const outcome = retryPolicy.upstreamOutcome(response.statusCode)
      if (outcome === 'result') {
        let result: unknown
        try {
          result = JSON.parse(body)
        } catch {
          throw new UpstreamAnswerError(`upstream answered ${response.statusCode} with a body that is not JSON`, response.statusCode)
        }
        if (!Value.Check(ProductResult, result)) {
          throw new UpstreamAnswerError(`upstream answered ${response.statusCode} without ResourceType, Resource, ResourceId and Data`, response.statusCode)
        }
        return { ResourceType: result.ResourceType, Resource: result.Resource, ResourceId: result.ResourceId, Data: result.Data }
      }
      if (outcome === 'rejected') {
        // The draft's 422 for a key reused with another request: our key never changes for a
        // ticket, so this says the upstream stored something else under it. Told, and still final.
        if (response.statusCode === 422 && /idempotency-key/i.test(body)) {
          observe.keyRefused(product.key)
          log.warn({ status: response.statusCode }, 'the upstream refused the ticket\'s Idempotency-Key')
        }
        throw new ProductRejection(messageOf(body, response.statusCode))
      }
      throw new UpstreamAnswerError(`upstream answered ${response.statusCode}`, response.statusCode)
    } finally {
      observe.call(product.key, status, Number(process.hrtime.bigint() - started) / 1e9)
    }
  }
  return Object.assign(handler, { close: async () => pool.close() })
}
