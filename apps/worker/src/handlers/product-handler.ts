import type { Logger } from 'pino'
import type { ProductResult, TicketJob } from '@request-out/contracts'

interface HandlerContext {
  /** Aborted when the try runs out of time (the product's TimeoutMs) or the worker is stopping. */
  signal: AbortSignal
  /** 1 for the first try. */
  attempt: number
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
