import { Type, type Static } from '@sinclair/typebox'
import { ApiEnvelope } from './api.js'
import { TicketEnvelope } from './ticket.js'

/** The events a client can be called for: a ticket's final record, by kind. */
export const WebhookEventType = Type.Union([
  Type.Literal('ticket.completed'),
  Type.Literal('ticket.failed'),
  Type.Literal('ticket.cancelled')
])
export type WebhookEventType = Static<typeof WebhookEventType>
export const ALL_WEBHOOK_EVENTS: WebhookEventType[] = ['ticket.completed', 'ticket.failed', 'ticket.cancelled']

/** `PUT /v1/webhook`: the client's endpoint (one per client). */
export const WebhookRequest = Type.Object({
  Url: Type.String({ minLength: 8, maxLength: 2048, pattern: '^https?://', description: 'Where deliveries are POSTed (https in production)' }),
  Events: Type.Optional(Type.Array(WebhookEventType, { minItems: 1, uniqueItems: true, description: 'Default: every event' }))
}, { additionalProperties: false })
export type WebhookRequest = Static<typeof WebhookRequest>

export const WebhookView = Type.Object({
  Url: Type.String(),
  Events: Type.Array(WebhookEventType),
  Enabled: Type.Boolean(),
  DisabledReason: Type.Union([Type.String(), Type.Null()]),
  CreatedAt: Type.String({ format: 'date-time' }),
  UpdatedAt: Type.String({ format: 'date-time' }),
  /** Shown once: on the first registration and on a rotation. */
  Secret: Type.Optional(Type.String({ description: 'whsec_… signing secret: shown once, never again' }))
}, { additionalProperties: false })
export type WebhookView = Static<typeof WebhookView>

export const WebhookResponse = ApiEnvelope(WebhookView, 'WebhookResponse')

/**
 * The body of every delivery (Standard Webhooks): `data` is what GET of the ticket answers; `id` is
 * the event's one id (also the webhook-id header, the timeline's `Id`, an event stream's `id:`).
 */
export interface WebhookPayload {
  id: string
  type: WebhookEventType
  timestamp: string
  data: TicketEnvelope
}

/** One delivery attempt, as `GET /v1/request-out/{TicketId}/deliveries` lists it. */
export const DeliveryAttempt = Type.Object({
  At: Type.String({ format: 'date-time' }),
  WebhookId: Type.String(),
  Type: WebhookEventType,
  Attempt: Type.Integer(),
  Status: Type.Union([Type.Integer(), Type.Null()], { description: 'The receiver\'s HTTP status, null when there was none' }),
  Error: Type.Union([Type.String(), Type.Null()]),
  DurationMs: Type.Integer()
}, { additionalProperties: false })
export type DeliveryAttempt = Static<typeof DeliveryAttempt>

export const DeliveriesResponse = ApiEnvelope(Type.Object({ Deliveries: Type.Array(DeliveryAttempt) }), 'DeliveriesResponse')

/** `POST /v1/request-out/{TicketId}/deliveries`: the re-sent event's webhook-id. */
export const ResendResponse = ApiEnvelope(Type.Object({ WebhookId: Type.String() }), 'ResendResponse')
