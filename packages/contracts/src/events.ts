import { Type, type Static } from '@sinclair/typebox'
import { ApiEnvelope } from './api.js'
import { TicketId } from './ticket.js'

/** The types of event a client's event stream carries (operators' audit entries never reach clients). */
const TICKET_STREAM_EVENT_TYPES = ['accepted', 'try-failed', 'record', 'redriven', 'cancel-requested'] as const
export const TicketStreamEventType = Type.Union(TICKET_STREAM_EVENT_TYPES.map((t) => Type.Literal(t)))
export type TicketStreamEventType = Static<typeof TicketStreamEventType>

/**
 * One event of a ticket, as `GET /v1/request-out/{TicketId}/events` and `GET /v1/events` send it
 * (the SSE `data:`). Never a personal value or a fingerprint: read the record with GET.
 */
export const TicketStreamEvent = Type.Object({
  Id: Type.String({ description: 'The event\'s one id (msg_<group>_<ms>_<seq>): also its webhook-id, its webhook body\'s id and its timeline Id' }),
  Type: TicketStreamEventType,
  TicketId: Type.String(),
  Product: Type.String({ description: 'Subject/SubjectType/SubjectIdentifier' }),
  At: Type.String({ format: 'date-time' }),
  Attempt: Type.Optional(Type.Integer({ description: 'try-failed: the try\'s attempt number; record: the tries it took' })),
  Code: Type.Optional(Type.String({ description: 'record: the record\'s code (SUCCESS, PRODUCT_FAILED, …)' }))
}, { additionalProperties: false, title: 'TicketStreamEvent' })
export type TicketStreamEvent = Static<typeof TicketStreamEvent>

/** The one `event: resync` a stream sends when it cannot resume (past what the streams and history keep); then it ends. */
export const ResyncEvent = Type.Object({
  Type: Type.Literal('resync'),
  Message: Type.String(),
  TicketId: Type.Optional(Type.String())
}, { additionalProperties: false, title: 'ResyncEvent' })
export type ResyncEvent = Static<typeof ResyncEvent>

/** `?follow=true`: keep a ticket's stream open after its record (a redrive may give it another). */
export const TicketEventsQuery = Type.Object({
  ClientId: Type.Optional(Type.String({ minLength: 1, maxLength: 256, description: 'Admins: another client\'s ticket' })),
  follow: Type.Optional(Type.Boolean({ description: 'Stay open after the record (for redrives); default false' })),
  stream_token: Type.Optional(Type.String({ minLength: 1, maxLength: 8192, description: 'A stream token (POST /v1/stream-tokens), for browsers\' EventSource' }))
}, { additionalProperties: false })
export type TicketEventsQuery = Static<typeof TicketEventsQuery>

export const ClientEventsQuery = Type.Object({
  Product: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9._-]{1,64}/[A-Za-z0-9._-]{1,64}/[A-Za-z0-9._-]{1,64}$', description: 'Only this product\'s tickets' })),
  Type: Type.Optional(Type.String({
    pattern: `^(${TICKET_STREAM_EVENT_TYPES.join('|')})(,(${TICKET_STREAM_EVENT_TYPES.join('|')}))*$`,
    description: 'Only these event types, comma-separated'
  })),
  stream_token: Type.Optional(Type.String({ minLength: 1, maxLength: 8192, description: 'A stream token for the caller\'s events (POST /v1/stream-tokens without TicketId)' }))
}, { additionalProperties: false })
export type ClientEventsQuery = Static<typeof ClientEventsQuery>

export const LastEventIdHeader = Type.Object({
  'last-event-id': Type.Optional(Type.String({ maxLength: 2048, description: 'Resume after this event (sent by EventSource on reconnect)' }))
})

/** POST /v1/stream-tokens: a short-lived, read-only token for one ticket's events or for all of the caller's. */
export const StreamTokenRequest = Type.Object({
  TicketId: Type.Optional(TicketId),
  ClientId: Type.Optional(Type.String({ minLength: 1, maxLength: 256, description: 'Admins: a token for another client\'s events' }))
}, { additionalProperties: false, title: 'StreamTokenRequest' })
export type StreamTokenRequest = Static<typeof StreamTokenRequest>

export const StreamTokenResponse = ApiEnvelope(Type.Object({
  StreamToken: Type.String({ description: 'Pass as ?stream_token= to the event routes; every other route refuses it' }),
  ExpiresIn: Type.Integer({ description: 'Seconds it may still open a stream' })
}), 'StreamTokenResponse')
