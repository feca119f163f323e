import { Type, type Static } from '@sinclair/typebox'
import { Subject, SubjectIdentifier, SubjectType, TicketId, TicketInput } from './ticket.js'

/** What the intake puts on a product queue and a worker hands to the product handler. */
export const TicketJob = Type.Object(
  {
    TicketId,
    Subject,
    SubjectType,
    SubjectIdentifier,
    Data: Type.Optional(TicketInput),
    ClientId: Type.String({ description: "The token's sub: tickets are namespaced per client" }),
    RequestId: Type.String({ description: 'The intake request id, carried into worker logs' }),
    AcceptedAt: Type.Integer({ description: 'Epoch ms when the intake accepted the ticket' }),
    ClaimedAt: Type.Optional(Type.Integer({
      description: "Epoch ms the claim stored (the ticket hash's `at`): names this acceptance of the TicketId; the upstream's Idempotency-Key is made of it. Absent in jobs queued before it existed"
    }))
  },
  { additionalProperties: false, $id: 'TicketJob' }
)
export type TicketJob = Static<typeof TicketJob>
