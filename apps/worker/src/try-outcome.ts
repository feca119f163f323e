import type { ProbeOutcome } from '@request-out/upstream-breaker'
import { CANCELLED } from './cancel-listener.js'
import { ProductRejection, UpstreamAnswerError, UpstreamPause } from './handlers/index.js'

export class TicketTimeoutError extends Error {
  override name = 'TicketTimeoutError'
}

export class TicketCancelledError extends Error {
  override name = 'TicketCancelledError'
}

/**
 * What a try's end says of the upstream, for its breaker: an answer (a result, a rejection, any
 * 4xx) shows it up; a 5xx, a timeout, a network error or a broken answer is a failure; a pause,
 * a cancellation or a stopping worker says nothing.
 */
export function upstreamOutcome (err: unknown, signal: AbortSignal, timedOut: boolean): ProbeOutcome {
  if (err instanceof UpstreamPause || err instanceof TicketCancelledError || signal.reason === CANCELLED) return 'none'
  if (err instanceof ProductRejection) return 'ok'
  if (err instanceof UpstreamAnswerError) return err.status >= 400 && err.status < 500 ? 'ok' : 'failed'
  return signal.aborted && !timedOut ? 'none' : 'failed'
}
