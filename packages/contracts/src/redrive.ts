import { Type, type Static } from '@sinclair/typebox'
import { ApiEnvelope } from './api.js'

const Time = Type.String({ format: 'date-time' })

/** POST /v1/admin/redrives: which failed tickets to send back to their upstream. */
export const RedriveRequest = Type.Object({
  Product: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9._-]{1,64}/[A-Za-z0-9._-]{1,64}/[A-Za-z0-9._-]{1,64}$', description: 'Subject/SubjectType/SubjectIdentifier' })),
  ClientId: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
  From: Type.Optional(Type.String({ format: 'date-time', description: 'Accepted at or after' })),
  To: Type.Optional(Type.String({ format: 'date-time', description: 'Accepted before' })),
  DryRun: Type.Boolean({ default: true, description: 'Only count and show a sample (the default): send false to redrive' })
}, { additionalProperties: false, title: 'RedriveRequest' })
export type RedriveRequest = Static<typeof RedriveRequest>
export const RedriveFilter = Type.Omit(RedriveRequest, ['DryRun'])
export type RedriveFilter = Static<typeof RedriveFilter>

export const RedriveSample = Type.Object({
  ClientId: Type.String(),
  TicketId: Type.String(),
  Product: Type.String(),
  AcceptedAt: Time
}, { additionalProperties: false })
export type RedriveSample = Static<typeof RedriveSample>

export const RedriveStartResponse = ApiEnvelope(Type.Object({
  RedriveId: Type.Union([Type.String(), Type.Null()], { description: 'null for a dry run, or when nothing matched' }),
  DryRun: Type.Boolean(),
  Selected: Type.Integer({ description: 'Tickets whose final code is PRODUCT_FAILED that match' }),
  Sample: Type.Array(RedriveSample, { description: 'The first few of them' })
}), 'RedriveStartResponse')

export const RedriveParams = Type.Object({ RedriveId: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' }) }, { additionalProperties: false })
export type RedriveParams = Static<typeof RedriveParams>

export const RedriveView = Type.Object({
  RedriveId: Type.String(),
  State: Type.Union([Type.Literal('running'), Type.Literal('waiting'), Type.Literal('done'), Type.Literal('stopped')], {
    description: 'running: sending tickets back; waiting: all sent, some without a new outcome yet; done; stopped (DELETE)'
  }),
  Selected: Type.Integer(),
  Queued: Type.Integer({ description: 'Sent back to their queue, once each' }),
  Completed: Type.Integer({ description: 'Of those, with a new outcome that is not PRODUCT_FAILED' }),
  FailedAgain: Type.Integer({ description: 'Of those, PRODUCT_FAILED again' }),
  Skipped: Type.Integer({ description: 'Not sent: accepted again since, final now, input gone, product switched off, another redrive has it' })
}, { additionalProperties: false, title: 'RedriveView' })
export type RedriveView = Static<typeof RedriveView>

export const RedriveResponse = ApiEnvelope(RedriveView, 'RedriveResponse')
