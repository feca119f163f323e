export { ErrorCode, ErrorStatus, Message, Role, Status } from './codes.js'
export { parseProductKey, productKey, TICKET_JOB_NAME } from './product-key.js'
export {
  acceptedEnvelope, cancelledEnvelope, cancellingEnvelope, completedEnvelope, dataDepthExceeds,
  failedEnvelope, finalRecordEnvelope, MAX_DATA_DEPTH, MAX_TICKET_ID_LENGTH, notReadyEnvelope,
  ProductResult, TicketEnvelope, TicketParams, TicketRequest
} from './ticket.js'
export {
  Availability, AvailabilityRequest, AvailabilityResponse, BatchRequest, BatchResponse,
  BatchResult, BulkCancelFilter, BulkCancelRequest, BulkCancelResponse, DoneResponse,
  errorEnvelope, ErrorEnvelope, FieldError, HealthResponse, LoginRequest, LoginResponse,
  BreakerView, OwnerQuery, PreferHeader, ProductParams, ProductsResponse, ProductView, RevocationRequest,
  successEnvelope
} from './api.js'
export { BreakerSettings, CatalogFile, ProductDefinition } from './catalog.js'
export { TicketJob } from './job.js'
export { BENCH_FEATURES, ConfigError, errorMessage, IntakeEnv, parseEnv, WorkerEnv, type BenchFeature } from './env.js'
export { MAX_CLIENT_ID_LENGTH, TokenClaims, UserRecord, UsersFile } from './users.js'
export {
  AdminAuditSearchForm, AdminAvailabilityForm, AdminBulkCancelForm, AdminClientParams,
  AdminLoginForm, AdminLogoutForm, AdminRedriveForm, AdminTicketActionForm, AdminTicketSearchForm
} from './admin-forms.js'
export {
  AuditQuery, AuditResponse, AuditRow, ErasureResponse, TicketDetail, TicketDetailResponse,
  TicketHistoryParams, TicketSearchQuery, TicketSearchResponse, TicketSummary, TimelineEntry, TryEntry
} from './history.js'
export {
  ALL_WEBHOOK_EVENTS, DeliveriesResponse, DeliveryAttempt, ResendResponse, WebhookEventType,
  WebhookRequest, WebhookResponse, WebhookView, type WebhookPayload
} from './webhooks.js'
export { AuditAction } from './audit-actions.js'
export {
  RedriveFilter, RedriveParams, RedriveRequest, RedriveResponse, RedriveSample, RedriveStartResponse, RedriveView
} from './redrive.js'
export {
  ClientEventsQuery, LastEventIdHeader, ResyncEvent, StreamTokenRequest, StreamTokenResponse,
  TicketEventsQuery, TicketStreamEvent, TicketStreamEventType
} from './events.js'
