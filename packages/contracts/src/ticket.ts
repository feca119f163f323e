import { Type, type Static, type TString } from '@sinclair/typebox'
import { ErrorStatus, Message, SeedMessage, Status, type ErrorCode } from './codes.js'

/**
 * The seed's `312d31-<uuid>` form, plain numbers, and anything else of these characters, except
 * `.` and `..`: as a path segment every HTTP client normalises them away, so the ticket could never
 * be read back.
 */
export const TicketIdPattern = '^(?!\\.{1,2}$)[A-Za-z0-9._-]{1,128}$'
export const MAX_TICKET_ID_LENGTH = 128
/** Subject, SubjectType and SubjectIdentifier. No `/`, so product keys split back. */
export const NamePattern = '^[A-Za-z0-9._-]{1,64}$'

export const TicketId = Type.String({
  minLength: 1,
  maxLength: 128,
  pattern: TicketIdPattern,
  description: 'Client-chosen id of the ticket: 1-128 letters, digits, "-", "_" or "." (not "." or ".." alone)',
  examples: ['312d31-5a2cc51e-ec2a-4286-a44a-bb7a258703e3']
})

const name = (description: string, example: string): TString =>
  Type.String({ minLength: 1, maxLength: 64, pattern: NamePattern, description, examples: [example] })

export const Subject = name('Product subject', 'digitalid')
export const SubjectType = name('Product subject type', 'enrollment')
export const SubjectIdentifier = name('Product subject identifier', 'ektp')

/**
 * How deep the ticket's `Data` may nest. JSON Schema cannot say it, so the intake checks it after the
 * schema (see `dataDepthExceeds`); without a bound a 16 KB body nests thousands of levels deep.
 */
export const MAX_DATA_DEPTH = 32

/** True when `value` nests objects or arrays deeper than `maxDepth` (the value itself is depth 1). Iterative. */
export function dataDepthExceeds (value: unknown, maxDepth: number = MAX_DATA_DEPTH): boolean {
  const stack: Array<[unknown, number]> = [[value, 1]]
  while (stack.length > 0) {
    const [current, depth] = stack.pop() as [unknown, number]
    if (current === null || typeof current !== 'object') continue
    if (depth > maxDepth) return true
    for (const child of Object.values(current)) stack.push([child, depth + 1])
  }
  return false
}

/** Product input: a JSON object, checked against the product's own input schema when it has one. */
export const TicketInput = Type.Record(Type.String(), Type.Unknown(), {
  description: "Optional product input, checked against the product's InputSchema"
})

export const TicketRequest = Type.Object(
  {
    TicketId,
    Subject,
    SubjectType,
    SubjectIdentifier,
    Data: Type.Optional(TicketInput)
  },
  { additionalProperties: false, $id: 'TicketRequest', title: 'TicketRequest' }
)
export type TicketRequest = Static<typeof TicketRequest>

export const TicketParams = Type.Object({ TicketId }, { additionalProperties: false })
export type TicketParams = Static<typeof TicketParams>

/** Every answer about a ticket, in the seed's shape. `Code` is on every non-success answer. */
export const TicketEnvelope = Type.Object(
  {
    TicketId: Type.String(),
    Subject: Type.String(),
    SubjectType: Type.String(),
    SubjectIdentifier: Type.String(),
    Action: Type.String({ description: '"create" once a ticket is accepted, "" in the seed\'s not-ready answer' }),
    ResourceType: Type.String(),
    Resource: Type.String(),
    ResourceId: Type.String(),
    Data: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]),
    Status: Type.Union([Type.Literal(Status.SUCCESS), Type.Literal(Status.FAILED)]),
    Code: Type.Optional(Type.String()),
    Message: Type.String(),
    StatusCode: Type.Integer()
  },
  { additionalProperties: false, $id: 'TicketEnvelope', title: 'TicketEnvelope' }
)
export type TicketEnvelope = Static<typeof TicketEnvelope>

/** What a product handler returns for a ticket it completed. */
export const ProductResult = Type.Object(
  {
    ResourceType: Type.String({ minLength: 1, maxLength: 128 }),
    Resource: Type.String({ minLength: 1, maxLength: 128 }),
    ResourceId: Type.String({ minLength: 1, maxLength: 256 }),
    Data: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()])
  },
  { $id: 'ProductResult' }
)
export type ProductResult = Static<typeof ProductResult>

type TicketFields = Pick<TicketRequest, 'TicketId' | 'Subject' | 'SubjectType' | 'SubjectIdentifier'>

const ticketFields = (t: TicketFields): TicketFields => ({
  TicketId: t.TicketId,
  Subject: t.Subject,
  SubjectType: t.SubjectType,
  SubjectIdentifier: t.SubjectIdentifier
})

/**
 * The seed's "Request on process / not available now" answer: every field empty, Data null,
 * Status "success", byte for byte as the seed gives it. Only `Code` tells in process (IN_PROCESS),
 * unknown ticket (NOT_FOUND) and unavailable product (PRODUCT_NOT_AVAILABLE) apart.
 */
export function notReadyEnvelope (code: Extract<ErrorCode, 'IN_PROCESS' | 'NOT_FOUND' | 'PRODUCT_NOT_AVAILABLE'>): TicketEnvelope {
  return {
    TicketId: '',
    Subject: '',
    SubjectType: '',
    SubjectIdentifier: '',
    Action: '',
    ResourceType: '',
    Resource: '',
    ResourceId: '',
    Data: null,
    Status: Status.SUCCESS,
    Code: code,
    Message: SeedMessage.IN_PROCESS,
    StatusCode: ErrorStatus[code]
  }
}

export function acceptedEnvelope (ticket: TicketFields): TicketEnvelope {
  return {
    ...ticketFields(ticket),
    Action: 'create',
    ResourceType: '',
    Resource: '',
    ResourceId: '',
    Data: null,
    Status: Status.SUCCESS,
    Message: Message.ACCEPTED,
    StatusCode: 202
  }
}

/** The seed's completed record. */
export function completedEnvelope (ticket: TicketFields, result: ProductResult): TicketEnvelope {
  return {
    ...ticketFields(ticket),
    Action: 'create',
    ResourceType: result.ResourceType,
    Resource: result.Resource,
    ResourceId: result.ResourceId,
    Data: result.Data,
    Status: Status.SUCCESS,
    Message: SeedMessage.SUCCESS,
    StatusCode: 200
  }
}

/** A ticket that ended without a record: the product refused it (422), never answered (502), or it was cancelled (410). */
export function failedEnvelope (
  ticket: TicketFields,
  code: Extract<ErrorCode, 'PRODUCT_REJECTED' | 'PRODUCT_FAILED' | 'TICKET_CONFLICT' | 'CANCELLED'>,
  message: string
): TicketEnvelope {
  return {
    ...ticketFields(ticket),
    Action: 'create',
    ResourceType: '',
    Resource: '',
    ResourceId: '',
    Data: null,
    Status: Status.FAILED,
    Code: code,
    Message: message,
    StatusCode: ErrorStatus[code]
  }
}

/** DELETE's answer while the cancellation is under way (202). */
export function cancellingEnvelope (ticket: TicketFields): TicketEnvelope {
  return { ...acceptedEnvelope(ticket), Code: 'CANCELLING', Message: Message.CANCELLING, StatusCode: ErrorStatus.CANCELLING }
}

/** A cancelled ticket's final record: GET, a repeated DELETE and a re-POST answer it (410). */
export function cancelledEnvelope (ticket: TicketFields): TicketEnvelope {
  return failedEnvelope(ticket, 'CANCELLED', Message.CANCELLED)
}

/** DELETE of a ticket that has its record already: the record, answered as a 409 naming its code. */
export function finalRecordEnvelope (record: TicketEnvelope): TicketEnvelope {
  return {
    ...record,
    Status: Status.FAILED,
    Code: 'TICKET_FINAL',
    Message: `${Message.TICKET_FINAL} (${record.Code ?? 'SUCCESS'}): it cannot be cancelled`,
    StatusCode: ErrorStatus.TICKET_FINAL
  }
}
