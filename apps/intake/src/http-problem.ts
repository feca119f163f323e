import { ErrorStatus, Message, type ErrorCode, type FieldError } from '@request-out/contracts'

/** An answer other than success, thrown from anywhere and shaped by the one error handler. */
export class HttpProblem extends Error {
  override name = 'HttpProblem'
  readonly statusCode: number
  constructor (
    readonly code: ErrorCode,
    message: string = (Message as Record<string, string>)[code] ?? code,
    readonly headers: Record<string, string> = {},
    readonly errors?: FieldError[],
    /** Why, for the log line only: never sent to the client (e.g. why a token was refused). */
    readonly detail?: string
  ) {
    super(message)
    this.statusCode = ErrorStatus[code]
  }
}

export const RETRY_AFTER_SECONDS = '1'

export const unavailable = (message: string = Message.UNAVAILABLE): HttpProblem =>
  new HttpProblem('UNAVAILABLE', message, { 'retry-after': RETRY_AFTER_SECONDS })

/** The one shape of a 400: the message names every field, the errors say what is wrong with each. */
export function validationProblem (errors: FieldError[], what: string = Message.VALIDATION_ERROR): HttpProblem {
  return new HttpProblem('VALIDATION_ERROR', `${what}: ${errors.map((e) => e.Field).join(', ')}`, {}, errors)
}
