/** @public The typed client's API: what its users import. */
export { RequestOutClient } from './client.js'
/** @public The typed client's API: what its users import. */
export {
  Cancelled, errorFor, Forbidden, NotFound, ProductFailed, ProductNotAvailable, ProductRejected,
  QuotaExceeded, RateLimited, RequestOutError, StillInProcess, StreamResync, TicketConflict, TicketFinal,
  Unauthorized, Unavailable, UnexpectedAnswer, ValidationError
} from './errors.js'
/** @public The typed client's API: what its users import. */
export {
  type ApiEnvelope, type BatchResult, type BreakerView, type ClientOptions, type WaitOptions, type DeliveryAttempt, type ProductView,
  type RedriveFilter, type RedriveSample, type RedriveStart, type RedriveView,
  type TicketEnvelope, type TicketRequest, type TicketStreamEvent, type TicketStreamEventType, type WebhookEventType, type WebhookView
} from './types.js'
/** @public The typed client's API: what its users import. */
export { verifyWebhook } from './verify-webhook.js'
