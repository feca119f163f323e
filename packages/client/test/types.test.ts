// The client publishes its own types (no import of a private package); these compile-time checks
// fail the type-check (and so `npm test`) the moment they drift from the contracts the API is built
// from. The API's OpenAPI document comes from the same schemas (apps/intake/test/operations.test.ts).
import t from 'tap'
import type { Static } from '@sinclair/typebox'
import type * as C from '@request-out/contracts'
import type * as Client from '../src/index.js'

// Each assignable to the other: a field added, removed, renamed, retyped or made optional on either side fails.
type Equals<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false
const same = <A, B>(check: Equals<A, B>): Equals<A, B> => check

t.test('the client\'s types are the contracts\' types', async (t) => {
  t.ok(same<Client.TicketRequest, Static<typeof C.TicketRequest>>(true), 'TicketRequest')
  t.ok(same<Client.TicketEnvelope, Static<typeof C.TicketEnvelope>>(true), 'TicketEnvelope')
  t.ok(same<Client.ProductView, Static<typeof C.ProductView>>(true), 'ProductView')
  t.ok(same<Client.BreakerView, Static<typeof C.BreakerView>>(true), 'BreakerView')
  t.ok(same<Client.RedriveView, Static<typeof C.RedriveView>>(true), 'RedriveView')
  t.ok(same<Client.RedriveSample, Static<typeof C.RedriveSample>>(true), 'RedriveSample')
  t.ok(same<Client.RedriveFilter, Static<typeof C.RedriveFilter>>(true), 'RedriveFilter')
  t.ok(same<Client.WebhookView, Static<typeof C.WebhookView>>(true), 'WebhookView')
  t.ok(same<Client.DeliveryAttempt, Static<typeof C.DeliveryAttempt>>(true), 'DeliveryAttempt')
  t.ok(same<Client.WebhookEventType, Static<typeof C.WebhookEventType>>(true), 'WebhookEventType')
  t.ok(same<Client.BatchResult, Static<typeof C.BatchResult>>(true), 'BatchResult')
  t.ok(same<Client.TicketStreamEvent, Static<typeof C.TicketStreamEvent>>(true), 'TicketStreamEvent')
})

t.test('every code the API answers has its typed error', async (t) => {
  const { errorFor, RequestOutError } = await import('../src/index.js')
  const { ErrorCode, ErrorStatus } = await import('@request-out/contracts')
  const generic = new Set(['INTERNAL', 'METHOD_NOT_ALLOWED', 'URI_TOO_LONG', 'HEADERS_TOO_LARGE', 'REQUEST_TIMEOUT', 'BAD_REQUEST', 'CANCELLING'])
  for (const code of Object.values(ErrorCode)) {
    const err = errorFor(code, ErrorStatus[code], 'm', null)
    t.ok(err instanceof RequestOutError, code)
    if (!generic.has(code)) t.not(err.constructor, RequestOutError, `${code} has a class of its own (${err.name})`)
  }
})
