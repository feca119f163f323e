/** Every `Code` an answer can carry. HTTP status for each lives in `ErrorStatus`. */
export const ErrorCode = {
  VALIDATION_ERROR: 'VALIDATION_ERROR',
  INVALID_JSON: 'INVALID_JSON',
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  UNSUPPORTED_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  UNAUTHORIZED: 'UNAUTHORIZED',
  INVALID_CREDENTIALS: 'INVALID_CREDENTIALS',
  FORBIDDEN: 'FORBIDDEN',
  NOT_FOUND: 'NOT_FOUND',
  IN_PROCESS: 'IN_PROCESS',
  PRODUCT_NOT_AVAILABLE: 'PRODUCT_NOT_AVAILABLE',
  TICKET_CONFLICT: 'TICKET_CONFLICT',
  TICKET_FINAL: 'TICKET_FINAL',
  CANCELLING: 'CANCELLING',
  CANCELLED: 'CANCELLED',
  QUOTA_EXCEEDED: 'QUOTA_EXCEEDED',
  PRODUCT_REJECTED: 'PRODUCT_REJECTED',
  PRODUCT_FAILED: 'PRODUCT_FAILED',
  RATE_LIMITED: 'RATE_LIMITED',
  UNAVAILABLE: 'UNAVAILABLE',
  METHOD_NOT_ALLOWED: 'METHOD_NOT_ALLOWED',
  ROUTE_NOT_FOUND: 'ROUTE_NOT_FOUND',
  URI_TOO_LONG: 'URI_TOO_LONG',
  HEADERS_TOO_LARGE: 'HEADERS_TOO_LARGE',
  REQUEST_TIMEOUT: 'REQUEST_TIMEOUT',
  BAD_REQUEST: 'BAD_REQUEST',
  INTERNAL: 'INTERNAL'
} as const
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode]

export const ErrorStatus: Record<ErrorCode, number> = {
  VALIDATION_ERROR: 400,
  INVALID_JSON: 400,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  UNAUTHORIZED: 401,
  INVALID_CREDENTIALS: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  IN_PROCESS: 404,
  PRODUCT_NOT_AVAILABLE: 404,
  TICKET_CONFLICT: 409,
  TICKET_FINAL: 409,
  CANCELLING: 202,
  CANCELLED: 410,
  QUOTA_EXCEEDED: 429,
  PRODUCT_REJECTED: 422,
  PRODUCT_FAILED: 502,
  RATE_LIMITED: 429,
  UNAVAILABLE: 503,
  METHOD_NOT_ALLOWED: 405,
  ROUTE_NOT_FOUND: 404,
  URI_TOO_LONG: 414,
  HEADERS_TOO_LARGE: 431,
  REQUEST_TIMEOUT: 408,
  BAD_REQUEST: 400,
  INTERNAL: 500
}

/** The seed document's own wording, kept verbatim. */
export const SeedMessage = {
  SUCCESS: 'success',
  IN_PROCESS: 'Request on process / not available now'
} as const

/** Our messages for the answers the seed does not word. */
export const Message = {
  ACCEPTED: 'Request accepted; poll the Location for the record',
  VALIDATION_ERROR: 'The request body is not valid',
  INVALID_QUERY: 'The query string is not valid',
  INVALID_JSON: 'The request body is not valid JSON',
  PAYLOAD_TOO_LARGE: 'The request body is too large',
  UNSUPPORTED_MEDIA_TYPE: 'Content-Type must be application/json',
  UNAUTHORIZED: 'A valid Bearer token is required',
  INVALID_CREDENTIALS: 'Username or password is wrong',
  FORBIDDEN: 'This token may not do that',
  NOT_FOUND: 'Not found',
  TICKET_CONFLICT: 'This TicketId was already used with other fields',
  TICKET_FINAL: 'The ticket already has its final record',
  CANCELLING: 'Cancellation requested',
  CANCELLED: 'The ticket was cancelled',
  QUOTA_EXCEEDED: 'The quota of tickets is used up; retry after the time given',
  PRODUCT_FAILED: 'The product did not answer after every retry',
  RATE_LIMITED: 'Too many requests; retry later',
  UNAVAILABLE: 'The service is temporarily unavailable; retry later',
  METHOD_NOT_ALLOWED: 'Method not allowed',
  ROUTE_NOT_FOUND: 'No such route',
  URI_TOO_LONG: 'The URL is too long',
  HEADERS_TOO_LARGE: 'The request headers are too large',
  REQUEST_TIMEOUT: 'The request took too long to arrive',
  BAD_REQUEST: 'The request is not valid HTTP',
  LOGGED_OUT: 'success',
  REVOKED: 'success',
  INTERNAL: 'Internal error',
  LOGGED_IN: 'success',
  AVAILABILITY_SAVED: 'success'
} as const

export const Status = { SUCCESS: 'success', FAILED: 'failed' } as const
export type Status = (typeof Status)[keyof typeof Status]

export const Role = { CLIENT: 'client', ADMIN: 'admin' } as const
export type Role = (typeof Role)[keyof typeof Role]
