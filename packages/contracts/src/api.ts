import { FormatRegistry, Type, type Static, type TSchema } from '@sinclair/typebox'
import { ErrorStatus, SeedMessage, Status, type ErrorCode } from './codes.js'
import { Subject, SubjectIdentifier, SubjectType } from './ticket.js'

/** The envelope of every answer that is not about one ticket (login, products, early errors). */
export function ApiEnvelope<T extends TSchema> (data: T, title: string) {
  return Type.Object(
    {
      Status: Type.Union([Type.Literal(Status.SUCCESS), Type.Literal(Status.FAILED)]),
      Code: Type.Optional(Type.String()),
      Message: Type.String(),
      Data: data,
      StatusCode: Type.Integer()
    },
    { additionalProperties: false, title }
  )
}

export const FieldError = Type.Object({
  Field: Type.String({ description: 'JSON pointer of the bad field, "/" for the body itself' }),
  Message: Type.String()
})
export type FieldError = Static<typeof FieldError>

export const ErrorEnvelope = ApiEnvelope(
  Type.Union([Type.Null(), Type.Object({ Errors: Type.Array(FieldError) })]),
  'ErrorEnvelope'
)
export type ErrorEnvelope = Static<typeof ErrorEnvelope>

/** The envelope of a successful answer that is not about one ticket. */
export function successEnvelope<T> (data: T, statusCode = 200): { Status: 'success', Message: string, Data: T, StatusCode: number } {
  return { Status: Status.SUCCESS, Message: SeedMessage.SUCCESS, Data: data, StatusCode: statusCode }
}

export function errorEnvelope (code: ErrorCode, message: string, errors?: FieldError[]): ErrorEnvelope {
  return {
    Status: Status.FAILED,
    Code: code,
    Message: message,
    Data: errors === undefined ? null : { Errors: errors },
    StatusCode: ErrorStatus[code]
  }
}

export const LoginRequest = Type.Object(
  {
    Username: Type.String({ minLength: 1, maxLength: 128 }),
    Password: Type.String({ minLength: 1, maxLength: 1024 })
  },
  { additionalProperties: false, title: 'LoginRequest' }
)
export type LoginRequest = Static<typeof LoginRequest>

const LoginData = Type.Object({
  AccessToken: Type.String(),
  TokenType: Type.Literal('Bearer'),
  ExpiresIn: Type.Integer({ description: 'Seconds until the token expires' })
})
export const LoginResponse = ApiEnvelope(LoginData, 'LoginResponse')
export type LoginResponse = Static<typeof LoginResponse>

/** A product's upstream breaker as every worker shares it. */
export const BreakerView = Type.Object({
  State: Type.Union([Type.Literal('closed'), Type.Literal('half-open'), Type.Literal('open')]),
  Since: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], { description: 'When it entered this state; null if it never left closed' }),
  LastFailure: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], { description: 'The last failed upstream call it counted' }),
  NextProbeAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], { description: 'Open: when one probe try is let through' })
}, { title: 'BreakerView' })
export type BreakerView = Static<typeof BreakerView>

export const ProductView = Type.Object({
  Key: Type.String({ description: 'Subject/SubjectType/SubjectIdentifier' }),
  Subject: Type.String(),
  SubjectType: Type.String(),
  SubjectIdentifier: Type.String(),
  Name: Type.String(),
  Kind: Type.String(),
  Available: Type.Boolean(),
  Reason: Type.Optional(Type.String()),
  Breaker: Type.Union([BreakerView, Type.Null()], { description: 'The upstream breaker; null when the catalog turns it off. Available stays the admin switch' }),
  InputSchema: Type.Optional(Type.Unknown())
})
export type ProductView = Static<typeof ProductView>

export const ProductsResponse = ApiEnvelope(Type.Object({ Products: Type.Array(ProductView) }), 'ProductsResponse')
export type ProductsResponse = Static<typeof ProductsResponse>

export const ProductParams = Type.Object(
  { Subject, SubjectType, SubjectIdentifier },
  { additionalProperties: false }
)
export type ProductParams = Static<typeof ProductParams>

export const AvailabilityRequest = Type.Object(
  {
    Available: Type.Boolean(),
    Reason: Type.Optional(Type.String({ maxLength: 256 }))
  },
  { additionalProperties: false, title: 'AvailabilityRequest' }
)
export type AvailabilityRequest = Static<typeof AvailabilityRequest>

// TypeBox's Value.Check knows no formats until they are registered; Ajv (the routes) has its own.
if (!FormatRegistry.Has('date-time')) FormatRegistry.Set('date-time', (value) => /^\d{4}-\d{2}-\d{2}T/.test(value) && !Number.isNaN(Date.parse(value)))

export const Availability = Type.Object({
  Available: Type.Boolean(),
  Reason: Type.Optional(Type.String()),
  UpdatedAt: Type.String({ format: 'date-time' }),
  UpdatedBy: Type.String()
})
export type Availability = Static<typeof Availability>

export const AvailabilityResponse = ApiEnvelope(
  Type.Intersect([Type.Object({ Key: Type.String() }), Availability]),
  'AvailabilityResponse'
)

export const HealthResponse = Type.Object({
  Status: Type.Union([Type.Literal('ok'), Type.Literal('unavailable')]),
  Checks: Type.Record(Type.String(), Type.Boolean())
})
export type HealthResponse = Static<typeof HealthResponse>

/** An answer that only says it worked (logout, revocation). */
export const DoneResponse = ApiEnvelope(Type.Null(), 'DoneResponse')
export type DoneResponse = Static<typeof DoneResponse>

/** `POST /v1/admin/revocations`: every token of a user issued until now, or one token by its id (`jti`). */
export const RevocationRequest = Type.Union([
  Type.Object({ Username: Type.String({ minLength: 1, maxLength: 256 }) }, { additionalProperties: false }),
  Type.Object({ TokenId: Type.String({ minLength: 1, maxLength: 256 }) }, { additionalProperties: false })
], { title: 'RevocationRequest' })
export type RevocationRequest = Static<typeof RevocationRequest>

/** `POST /v1/admin/cancellations`: cancel every unfinished ticket that matches (a dry run counts them). */
export const BulkCancelRequest = Type.Object({
  Product: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9._-]{1,64}/[A-Za-z0-9._-]{1,64}/[A-Za-z0-9._-]{1,64}$', description: 'Subject/SubjectType/SubjectIdentifier; all products when absent' })),
  ClientId: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
  State: Type.Optional(Type.Union([Type.Literal('waiting'), Type.Literal('prioritized'), Type.Literal('delayed'), Type.Literal('active')], { description: 'Every unfinished state when absent' })),
  DryRun: Type.Boolean({ default: true, description: 'Only count (the default): send false to cancel' })
}, { additionalProperties: false })
export type BulkCancelRequest = Static<typeof BulkCancelRequest>
export const BulkCancelFilter = Type.Omit(BulkCancelRequest, ['DryRun'])
export type BulkCancelFilter = Static<typeof BulkCancelFilter>

export const BulkCancelResponse = ApiEnvelope(Type.Object({
  DryRun: Type.Boolean(),
  Matched: Type.Integer({ description: 'Unfinished tickets that match' }),
  Cancelled: Type.Integer({ description: 'Of those, asked to cancel now (0 in a dry run)' })
}), 'BulkCancelResponse')

/** The most tickets one batch may hold. */
const MAX_BATCH_TICKETS = 1000

/**
 * `POST /v1/request-out/batch`: up to 1,000 tickets. Each is checked on its own (a ticket's own
 * validation errors are in its result), so the items are only required to be objects here.
 */
export const BatchRequest = Type.Object({
  Tickets: Type.Array(Type.Record(Type.String(), Type.Unknown()), { minItems: 1, maxItems: MAX_BATCH_TICKETS })
}, { additionalProperties: false, $id: 'BatchRequest', title: 'BatchRequest' })
export type BatchRequest = Static<typeof BatchRequest>

/** One ticket's result in a batch: what a single POST of it would have answered. */
export const BatchResult = Type.Object({
  TicketId: Type.String(),
  StatusCode: Type.Integer(),
  Code: Type.Optional(Type.String()),
  Message: Type.Optional(Type.String()),
  Errors: Type.Optional(Type.Array(FieldError))
}, { additionalProperties: false })
export type BatchResult = Static<typeof BatchResult>

export const BatchResponse = ApiEnvelope(Type.Object({ Results: Type.Array(BatchResult) }), 'BatchResponse')

/** `?ClientId=`: an admin acts for another client (a client may name only itself). */
export const OwnerQuery = Type.Object({ ClientId: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })) }, { additionalProperties: false })

/** `Prefer: wait=N` (RFC 7240): a long poll. */
export const PreferHeader = Type.Object({
  prefer: Type.Optional(Type.String({ description: 'wait=N (N ≤ 30): hold the answer until the ticket is final or N seconds pass' }))
})
