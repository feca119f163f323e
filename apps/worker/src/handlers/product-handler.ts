import type { Logger } from 'pino'
import type { ProductResult, TicketJob } from '@request-out/contracts'

interface HandlerContext {
  /** Aborted when the try runs out of time (the product's TimeoutMs) or the worker is stopping. */
  signal: AbortSignal
  /** 1 for the first try. */
  attempt: number
  /** The ticket's Idempotency-Key header value, the same on every try of this acceptance. */
  idempotencyKey: string
  log: Logger
}

/**
 * A product: ticket in, record fields out. Plain async code, no BullMQ or Fastify: throwing a
 * ProductRejection refuses the ticket for good (422); any other error is retried, then 502.
 */
export type ProductHandler = (ticket: TicketJob, context: HandlerContext) => Promise<ProductResult>

/** The product refused the ticket's data; retrying cannot help. */
export class ProductRejection extends Error {
  override name = 'ProductRejection'
}

/**
 * The upstream asked to be left alone for a while (a 429 or 503 with Retry-After or RateLimit
 * fields): the product pauses on every worker for `pauseMs`, and the try is not counted.
 */
export class UpstreamPause extends Error {
  override name = 'UpstreamPause'
  constructor (readonly pauseMs: number, readonly status: number) {
    super(`the upstream answered ${status} and asked to wait ${Math.ceil(pauseMs / 1000)} s`)
  }
}

/**
 * The upstream answered a status that is no result, so the try is retried. A 4xx among them (408,
 * 409, 425, a 429 without a hint) still shows the upstream up: no failure for its breaker.
 */
export class UpstreamAnswerError extends Error {
  override name = 'UpstreamAnswerError'
  constructor (message: string, readonly status: number) {
    super(message)
  }
}
