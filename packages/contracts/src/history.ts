import { Type, type Static } from '@sinclair/typebox'
import { ApiEnvelope } from './api.js'
import { TicketEnvelope, TicketIdPattern } from './ticket.js'
import { AuditAction } from './audit-actions.js'

const ClientIdField = Type.String({ minLength: 1, maxLength: 128, description: 'The client (its username)' })
const Time = Type.String({ format: 'date-time' })
// Query strings are not coerced (the API never turns "12" into 12), so a number here is its digits.
const Limit = Type.String({ pattern: '^(?:[1-9][0-9]?|[1-4][0-9]{2}|500)$', description: 'Rows per page, 1 to 500 (default 50)' })
const Cursor = Type.String({ minLength: 1, maxLength: 200, pattern: '^[A-Za-z0-9_-]+$', description: 'NextCursor of the previous page' })

/** GET /v1/admin/tickets: every filter optional; newest first. */
export const TicketSearchQuery = Type.Object({
  TicketId: Type.Optional(Type.String({
    minLength: 1,
    maxLength: 129,
    pattern: '^[A-Za-z0-9._-]+\\*?$',
    description: 'Exact TicketId, or a prefix ending in * (abc*)'
  })),
  ClientId: Type.Optional(ClientIdField),
  Product: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9._-]{1,64}/[A-Za-z0-9._-]{1,64}/[A-Za-z0-9._-]{1,64}$', description: 'Subject/SubjectType/SubjectIdentifier' })),
  Code: Type.Optional(Type.String({ pattern: '^[A-Z_]{1,64}$', description: 'SUCCESS, a failure code, or IN_PROCESS (no record yet)' })),
  From: Type.Optional(Type.String({ format: 'date-time', description: 'AcceptedAt at or after' })),
  To: Type.Optional(Type.String({ format: 'date-time', description: 'AcceptedAt before' })),
  Limit: Type.Optional(Limit),
  Cursor: Type.Optional(Cursor)
}, { additionalProperties: false })
export type TicketSearchQuery = Static<typeof TicketSearchQuery>

export const TicketSummary = Type.Object({
  ClientId: Type.String(),
  TicketId: Type.String(),
  Product: Type.String(),
  Code: Type.String(),
  AcceptedAt: Time,
  FinishedAt: Type.Union([Time, Type.Null()]),
  Attempts: Type.Integer()
}, { additionalProperties: false })
export type TicketSummary = Static<typeof TicketSummary>

export const TicketSearchResponse = ApiEnvelope(Type.Object({
  Tickets: Type.Array(TicketSummary),
  NextCursor: Type.Union([Type.String(), Type.Null()])
}), 'TicketSearchResponse')
export type TicketSearchResponse = Static<typeof TicketSearchResponse>

export const TimelineEntry = Type.Object({
  Id: Type.String({ description: 'The event\'s one id (msg_<group>_<ms>_<seq>): the same in its webhook (webhook-id, body id) and its event stream (id:)' }),
  At: Time,
  Type: Type.String({ description: 'accepted, try-failed, record, or an operator action (audit)' }),
  Details: Type.Record(Type.String(), Type.Unknown())
}, { additionalProperties: false })
export type TimelineEntry = Static<typeof TimelineEntry>

/** One try of a ticket, as its events tell it. */
export const TryEntry = Type.Object({
  Attempt: Type.Integer({ description: 'BullMQ\'s attempt number in its round (a lost try keeps the number of the try that follows it)' }),
  Round: Type.Integer({ description: '1 for the client\'s POST; one more for each operator retry (and, later, redrive)' }),
  StartedAt: Type.Union([Time, Type.Null()], { description: 'null for a lost try (its worker died with it)' }),
  DurationMs: Type.Union([Type.Integer(), Type.Null()]),
  Outcome: Type.Union([Type.Literal('failed'), Type.Literal('rejected'), Type.Literal('succeeded'), Type.Literal('lost')]),
  Reason: Type.Union([Type.String(), Type.Null()], { description: 'Scrubbed: the upstream\'s status or the error\'s class and message, never personal values or the upstream\'s body' }),
  Worker: Type.Union([Type.String(), Type.Null()], { description: 'The worker process that ran it (host:pid)' }),
  StartedBy: Type.String({ description: 'client, or the operator whose retry started its round' })
}, { additionalProperties: false, title: 'TryEntry' })
export type TryEntry = Static<typeof TryEntry>

export const TicketHistoryParams = Type.Object({
  ClientId: ClientIdField,
  TicketId: Type.String({ pattern: TicketIdPattern })
}, { additionalProperties: false })
export type TicketHistoryParams = Static<typeof TicketHistoryParams>

export const TicketDetail = Type.Object({
  ...TicketSummary.properties,
  RequestId: Type.Union([Type.String(), Type.Null()]),
  TraceId: Type.Union([Type.String(), Type.Null()], { description: 'The OpenTelemetry trace id of the POST that accepted it, when it was traced' }),
  PersonalDataErasedAt: Type.Union([Time, Type.Null()]),
  Tries: Type.Array(TryEntry, { description: 'One entry per try, oldest first' }),
  Timeline: Type.Array(TimelineEntry),
  Record: Type.Union([TicketEnvelope, Type.Null()], { description: 'With personal fields redacted' })
}, { additionalProperties: false })
export type TicketDetail = Static<typeof TicketDetail>

export const TicketDetailResponse = ApiEnvelope(TicketDetail, 'TicketDetailResponse')

/** GET /v1/admin/audit. */
export const AuditQuery = Type.Object({
  Actor: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
  Action: Type.Optional(AuditAction),
  From: Type.Optional(Type.String({ format: 'date-time' })),
  To: Type.Optional(Type.String({ format: 'date-time' })),
  Limit: Type.Optional(Limit),
  Cursor: Type.Optional(Cursor)
}, { additionalProperties: false })
export type AuditQuery = Static<typeof AuditQuery>

export const AuditRow = Type.Object({
  At: Time,
  Actor: Type.String(),
  Address: Type.String(),
  Action: Type.String(),
  Target: Type.String(),
  ClientId: Type.Union([Type.String(), Type.Null()]),
  TicketId: Type.Union([Type.String(), Type.Null()]),
  Before: Type.Unknown(),
  After: Type.Unknown()
}, { additionalProperties: false })
export type AuditRow = Static<typeof AuditRow>

export const AuditResponse = ApiEnvelope(Type.Object({
  Entries: Type.Array(AuditRow),
  NextCursor: Type.Union([Type.String(), Type.Null()])
}), 'AuditResponse')

/** `DELETE /v1/admin/tickets/{ClientId}/{TicketId}/personal-data`. */
export const ErasureResponse = ApiEnvelope(Type.Object({ RecordsErased: Type.Integer({ description: 'Stored records (one per acceptance) whose personal fields were erased' }) }), 'ErasureResponse')
