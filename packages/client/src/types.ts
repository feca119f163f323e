// The API's shapes, as this package publishes them: standalone (no import of a private package).
// test/types.test.ts checks, at compile time, that each equals the TypeBox schema of
// @request-out/contracts it mirrors, so the client cannot drift from the API.

export interface TicketRequest {
  TicketId: string
  Subject: string
  SubjectType: string
  SubjectIdentifier: string
  Data?: Record<string, unknown>
}

/** Every answer about a ticket: its record, or the seed's not-ready answer. `Code` on every non-success. */
export interface TicketEnvelope {
  TicketId: string
  Subject: string
  SubjectType: string
  SubjectIdentifier: string
  Action: string
  ResourceType: string
  Resource: string
  ResourceId: string
  Data: Record<string, unknown> | null
  Status: 'success' | 'failed'
  Code?: string
  Message: string
  StatusCode: number
}

/** A product's upstream breaker: open while its upstream keeps failing (new tickets are refused or held then). */
export interface BreakerView {
  State: 'closed' | 'half-open' | 'open'
  Since: string | null
  LastFailure: string | null
  NextProbeAt: string | null
}

export interface ProductView {
  Key: string
  Subject: string
  SubjectType: string
  SubjectIdentifier: string
  Name: string
  Kind: string
  Available: boolean
  Reason?: string
  /** null when the catalog turns the product's breaker off. */
  Breaker: BreakerView | null
  InputSchema?: unknown
}

export type WebhookEventType = 'ticket.completed' | 'ticket.failed' | 'ticket.cancelled'

export interface WebhookView {
  Url: string
  Events: WebhookEventType[]
  Enabled: boolean
  DisabledReason: string | null
  CreatedAt: string
  UpdatedAt: string
  Secret?: string
}

export interface DeliveryAttempt {
  At: string
  WebhookId: string
  Type: WebhookEventType
  Attempt: number
  Status: number | null
  Error: string | null
  DurationMs: number
}

/** The envelope of every answer that is not about one ticket. */
export interface ApiEnvelope<T> {
  Status: 'success' | 'failed'
  Code?: string
  Message: string
  Data: T
  StatusCode: number
}

/** One ticket's result in a batch: what a single POST of it would have answered. */
export interface BatchResult {
  TicketId: string
  StatusCode: number
  Code?: string
  Message?: string
  Errors?: Array<{ Field: string, Message: string }>
}

/** Which failed tickets a redrive sends back (admins): at least one of Product, ClientId and From. */
export interface RedriveFilter {
  Product?: string
  ClientId?: string
  From?: string
  To?: string
}

export interface RedriveSample {
  ClientId: string
  TicketId: string
  Product: string
  AcceptedAt: string
}

/** A dry run's (RedriveId null) or a started redrive's answer. */
export interface RedriveStart {
  RedriveId: string | null
  DryRun: boolean
  Selected: number
  Sample: RedriveSample[]
}

export interface RedriveView {
  RedriveId: string
  State: 'running' | 'waiting' | 'done' | 'stopped'
  Selected: number
  Queued: number
  Completed: number
  FailedAgain: number
  Skipped: number
}

/** The kinds of ticket event a stream carries. */
export type TicketStreamEventType = 'accepted' | 'try-failed' | 'record' | 'redriven' | 'cancel-requested'

/** One event of a ticket, as the event streams send it: never a personal value (read the record with `get`). */
export interface TicketStreamEvent {
  /** The event's one id: also its webhook-id, its webhook body's id and its history timeline Id. */
  Id: string
  Type: TicketStreamEventType
  TicketId: string
  Product: string
  At: string
  /** try-failed: the try's attempt number; record: the tries it took. */
  Attempt?: number
  /** record: its code. */
  Code?: string
}

export type ClientOptions = { baseUrl: string, fetch?: typeof fetch, maxRetries?: number, requestTimeoutMs?: number } & (
  | { username: string, password: string }
  | { token: string }
  | { getToken: () => Promise<string> | string }
)

export interface WaitOptions {
  /** How long to wait for the record in all, in ms. */
  timeoutMs?: number
  signal?: AbortSignal
}
