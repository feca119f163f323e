import type { BatchResult, TicketEnvelope } from '@request-out/contracts'
import { RETRY_AFTER_SECONDS, type HttpProblem } from '../http-problem.js'
import type { QuotaState } from '../quota.js'

/** What `request_out_tickets_total` counts for a submission: its product and outcome (`accepted`, `duplicate` or a code). */
export interface TicketMetric { product: string, outcome: string }

interface AnswerParts {
  headers: Record<string, string>
  /** Submissions only. */
  metric?: TicketMetric
  /** Submissions of a client with a quota: where it stands (the RateLimit fields tell it). */
  quota?: QuotaState
}

/**
 * What the intake answers about a ticket: an envelope to send, or a problem to answer with (the
 * one error handler shapes it). Refusals are answered this way, never thrown; what is thrown is a
 * failure nobody expected (Redis gone mid-request), which the error handler turns into 503 or 500.
 */
export type TicketAnswer =
  | AnswerParts & { kind: 'envelope', envelope: TicketEnvelope }
  | AnswerParts & { kind: 'problem', problem: HttpProblem }

/** An envelope as read: while the ticket is not final, the client is told when to look again. */
export const reading = (envelope: TicketEnvelope, headers: Record<string, string> = {}): TicketAnswer => ({
  kind: 'envelope',
  envelope,
  headers: envelope.Code === 'IN_PROCESS' || envelope.Code === 'CANCELLING' ? { 'retry-after': RETRY_AFTER_SECONDS, ...headers } : headers
})

/** A submission's envelope, counted as `outcome`. */
export const answer = (envelope: TicketEnvelope, product: string, outcome: string, headers: Record<string, string> = {}): TicketAnswer =>
  ({ ...reading(envelope, headers), metric: { product, outcome } })

/** A refusal, counted under its code when `product` is given (submissions). */
export const refusal = (problem: HttpProblem, product?: string): TicketAnswer =>
  ({ kind: 'problem', problem, headers: {}, ...(product === undefined ? {} : { metric: { product, outcome: problem.code } }) })

/** A batch entry for a ticket refused with `problem`. */
export const problemResult = (p: HttpProblem): Omit<BatchResult, 'TicketId'> =>
  ({ StatusCode: p.statusCode, Code: p.code, Message: p.message, ...(p.errors === undefined ? {} : { Errors: p.errors }) })

/** A batch entry for what a single POST of the ticket would have answered. */
export const batchResult = (a: TicketAnswer): Omit<BatchResult, 'TicketId'> => a.kind === 'problem'
  ? problemResult(a.problem)
  : { StatusCode: a.envelope.StatusCode, ...(a.envelope.Code === undefined ? {} : { Code: a.envelope.Code }), Message: a.envelope.Message }

/** Where a ticket is read back; encoded, though TicketIds hold only URL-safe characters today. */
export const ticketLocation = (ticketId: string): string => `/v1/request-out/${encodeURIComponent(ticketId)}`
