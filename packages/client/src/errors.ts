/** Any answer of the API that is not a success, with the API's `Code`, HTTP status and body. */
export class RequestOutError extends Error {
  override name = 'RequestOutError'
  constructor (
    message: string,
    readonly code: string,
    readonly status: number,
    readonly body: unknown,
    /** Seconds the API asked to wait (`Retry-After`), when it did. */
    readonly retryAfterSeconds?: number
  ) {
    super(message)
  }
}

/** 409 TICKET_CONFLICT: the TicketId was used with other fields. */
export class TicketConflict extends RequestOutError { override name = 'TicketConflict' }
/** 409 TICKET_FINAL: a cancellation came after the ticket's record. */
export class TicketFinal extends RequestOutError { override name = 'TicketFinal' }
/** 422 PRODUCT_REJECTED: the product refused the ticket's data (final). */
export class ProductRejected extends RequestOutError { override name = 'ProductRejected' }
/**
 * 502 PRODUCT_FAILED: the product never answered, after every retry.
 * @public (the client's API: its callers catch it)
 */
export class ProductFailed extends RequestOutError { override name = 'ProductFailed' }
/**
 * 404 PRODUCT_NOT_AVAILABLE: unknown, switched off, or not this client's; or, with
 * `retryAfterSeconds`, the product's upstream is failing and its breaker refuses new tickets for
 * now: temporary, try again after that long.
 */
export class ProductNotAvailable extends RequestOutError {
  override name = 'ProductNotAvailable'
  /** True for the breaker's refusal: it says when to come back. */
  get temporary (): boolean {
    return this.retryAfterSeconds !== undefined
  }
}
/** 404 NOT_FOUND: no such ticket (or webhook, or route). */
export class NotFound extends RequestOutError { override name = 'NotFound' }
/** 410 CANCELLED. */
export class Cancelled extends RequestOutError { override name = 'Cancelled' }
/** 401: no valid token (after logging in again once). */
export class Unauthorized extends RequestOutError { override name = 'Unauthorized' }
/**
 * 403.
 * @public (the client's API: its callers catch it)
 */
export class Forbidden extends RequestOutError { override name = 'Forbidden' }
/** 400 VALIDATION_ERROR and the other client mistakes (400, 413, 415). */
export class ValidationError extends RequestOutError { override name = 'ValidationError' }
/**
 * 429 RATE_LIMITED, after the retries.
 * @public (the client's API: its callers catch it)
 */
export class RateLimited extends RequestOutError { override name = 'RateLimited' }
/**
 * 429 QUOTA_EXCEEDED: never retried (its Retry-After may be hours away).
 * @public (the client's API: its callers catch it)
 */
export class QuotaExceeded extends RequestOutError { override name = 'QuotaExceeded' }
/** 503, or no connection, after the retries. */
export class Unavailable extends RequestOutError { override name = 'Unavailable' }
/** The server answered something that is not Request Out's envelope (an empty 204, an HTML page): a wrong URL or a proxy in the way. */
export class UnexpectedAnswer extends RequestOutError { override name = 'UnexpectedAnswer' }
/**
 * An event stream cannot resume where it was (past what the server keeps, `event: resync`): read
 * the ticket (or tickets) with `get`, then watch anew.
 * @public (the client's API: its callers catch it)
 */
export class StreamResync extends RequestOutError { override name = 'StreamResync' }
/** `waitFor` ran out of time while the ticket was still in process. */
export class StillInProcess extends RequestOutError { override name = 'StillInProcess' }

const BY_CODE: Record<string, typeof RequestOutError> = {
  TICKET_CONFLICT: TicketConflict,
  TICKET_FINAL: TicketFinal,
  PRODUCT_REJECTED: ProductRejected,
  PRODUCT_FAILED: ProductFailed,
  PRODUCT_NOT_AVAILABLE: ProductNotAvailable,
  NOT_FOUND: NotFound,
  ROUTE_NOT_FOUND: NotFound,
  CANCELLED: Cancelled,
  UNAUTHORIZED: Unauthorized,
  INVALID_CREDENTIALS: Unauthorized,
  FORBIDDEN: Forbidden,
  VALIDATION_ERROR: ValidationError,
  INVALID_JSON: ValidationError,
  PAYLOAD_TOO_LARGE: ValidationError,
  UNSUPPORTED_MEDIA_TYPE: ValidationError,
  RATE_LIMITED: RateLimited,
  QUOTA_EXCEEDED: QuotaExceeded,
  UNAVAILABLE: Unavailable,
  IN_PROCESS: StillInProcess
}

/** The typed error of an answer. */
export function errorFor (code: string, status: number, message: string, body: unknown, retryAfterSeconds?: number): RequestOutError {
  const Type = BY_CODE[code] ?? RequestOutError
  return new Type(message, code, status, body, retryAfterSeconds)
}
