import { ErrorCode } from '@request-out/contracts'
import type { Product } from './product-catalog.js'

// Upstream 4xx answers that mean "try again later", not "your data is wrong". 409: with the
// Idempotency-Key every try sends, the draft's "a request with this key is still being processed".
const RETRYABLE_UPSTREAM_4XX = new Set([408, 409, 425, 429])

/** The code of a ticket that ran out of tries, or whose workers kept dying under it. */
const EXHAUSTED: typeof ErrorCode.PRODUCT_FAILED = ErrorCode.PRODUCT_FAILED

/**
 * The one place that says what is retried, how often, and what is final. Defaults (attempts,
 * backoff, timeout) are stated in the catalog schema; everything else asks here.
 */
export const retryPolicy = {
  /** The code a ticket gets when no try succeeded (502). */
  exhaustedCode: EXHAUSTED,

  /** BullMQ job options of a product's tickets: its attempts, exponential backoff with jitter. */
  jobOptions (product: Product): { attempts: number, backoff: { type: 'exponential', delay: number, jitter: number } } {
    return {
      attempts: product.attempts,
      backoff: { type: 'exponential', delay: product.backoff.delayMs, jitter: product.backoff.jitter }
    }
  },

  /** True when try `attempt` (1-based) of a job allowed `attempts` tries is its last: its failure is final. */
  isLastAttempt (attempt: number, attempts: number | undefined): boolean {
    return attempt >= (attempts ?? 1)
  },

  /** What an upstream's HTTP status means for the ticket: a result, a rejection (final, 422), or a retry. */
  upstreamOutcome (status: number): 'result' | 'rejected' | 'retry' {
    if (status >= 200 && status < 300) return 'result'
    if (status >= 400 && status < 500 && !RETRYABLE_UPSTREAM_4XX.has(status)) return 'rejected'
    return 'retry'
  },

  /**
   * True for a record no later outcome may replace: every record but one saying the product never
   * answered, which an operator's retry or a late duplicate delivery replaces.
   */
  isFinalRecord (code: string | null | undefined): boolean {
    return code !== null && code !== undefined && code !== EXHAUSTED
  }
}
