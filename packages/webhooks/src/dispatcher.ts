import type { Queue } from 'bullmq'
import type { Cluster, Redis } from 'ioredis'
import type { TicketEnvelope, WebhookEventType, WebhookPayload } from '@request-out/contracts'
import { withTraceparent } from '@request-out/tracing'
import { TicketEventConsumer, TicketEventType, attachRecords, eventId, type StreamEvent, type TicketEventConsumerOptions } from '@request-out/record-store'
import type { DeliveryState } from './delivery-state.js'
import type { EndpointStore } from './endpoint-store.js'
import { DELIVERY_JOB_NAME, deliveryJobOptions, type DeliveryJob } from './webhook-queue.js'
import { ticketKey } from '@request-out/redis-keys'

/** The consumer group of the webhook dispatchers on every ticket event stream. */
const WEBHOOK_GROUP = 'webhooks'

/** The event a record is: completed, cancelled, or failed (rejected or never answered). */
function eventTypeOf (code: string): WebhookEventType {
  if (code === 'SUCCESS') return 'ticket.completed'
  if (code === 'CANCELLED') return 'ticket.cancelled'
  return 'ticket.failed'
}

export type DispatcherOptions = Omit<TicketEventConsumerOptions, 'group' | 'name' | 'handle' | 'startAt'> & {
  endpoints: EndpointStore
  state: DeliveryState
  queue: Queue<DeliveryJob>
  schedule: number[]
}

/**
 * Turns ticket records into deliveries: a consumer of the `webhooks` group that, for each record
 * whose client has an enabled endpoint asking for its event, freezes the payload (what GET answers,
 * as it was then) and queues one delivery job. The job id is the event's webhook-id, so a batch
 * handled twice queues nothing twice. Its group starts at new events: endpoints are not called for
 * records older than the dispatcher.
 */
export class WebhookDispatcher extends TicketEventConsumer {
  constructor (redis: Redis | Cluster, options: DispatcherOptions) {
    const { endpoints, state, queue, schedule, ...consumer } = options
    // Endpoints are read once a second at most: a record costs no Redis call when its client has none.
    // One read at a time, shared by the batches that ask meanwhile.
    type Endpoints = Map<string, Awaited<ReturnType<EndpointStore['get']>>>
    let cache: Promise<Endpoints> | undefined
    let cachedAt = 0
    const currentEndpoints = async (): Promise<Endpoints> => {
      if (cache === undefined || Date.now() - cachedAt > 1000) {
        cachedAt = Date.now()
        const reading = endpoints.list().then((list): Endpoints => new Map(list.map(({ clientId: c, endpoint }) => [c, endpoint])))
        // A failed read is not kept: the next batch reads again.
        cache = reading.catch((err: unknown) => { cache = undefined; throw err })
      }
      return await cache
    }
    const dispatch = async (event: StreamEvent): Promise<void> => {
      // Without its record: the ticket holds another outcome by now (that one has its own event), or it expired.
      if (event.fields.record === undefined) return
      const type = eventTypeOf(event.fields.code ?? '')
      const webhookId = eventId(event.group, event.id)
      const timestamp = Math.floor(event.at / 1000)
      const payload: WebhookPayload = { id: webhookId, type, timestamp: new Date(event.at).toISOString(), data: JSON.parse(event.fields.record) as TicketEnvelope }
      const body = JSON.stringify(payload)
      const job: DeliveryJob = { clientId: event.clientId, ticketId: event.ticketId, webhookId, type, timestamp }
      await state.freeze(ticketKey(event.clientId, event.ticketId), { webhookId, type, timestamp, body })
      // The delivery joins the ticket's trace: the record's event carries the span that stored it.
      await withTraceparent(event.fields.traceparent, async () =>
        await queue.add(DELIVERY_JOB_NAME, job, { jobId: webhookId, ...deliveryJobOptions(schedule) }))
    }
    const handle = async (events: StreamEvent[]): Promise<void> => {
      const endpointOf = await currentEndpoints()
      // Only the records an endpoint asks for are read from their tickets: most clients have no
      // endpoint, and reading every record cost each worker an HMGET (and the record's bytes) a ticket.
      const wanted = events.filter((event) => {
        if (event.type !== TicketEventType.RECORD) return false
        const endpoint = endpointOf.get(event.clientId)
        return endpoint !== undefined && endpoint.Enabled && endpoint.Events.includes(eventTypeOf(event.fields.code ?? ''))
      })
      await attachRecords(redis, consumer.prefix, wanted)
      // Tickets side by side (two round trips each, one after the other, held a healthy receiver's
      // deliveries to the pace of one dispatcher's round trips); one ticket's events in their order,
      // so its newest frozen event stays the newest.
      const byTicket = new Map<string, StreamEvent[]>()
      for (const event of wanted) {
        const key = ticketKey(event.clientId, event.ticketId)
        const list = byTicket.get(key)
        if (list === undefined) byTicket.set(key, [event])
        else list.push(event)
      }
      await Promise.all([...byTicket.values()].map(async (list) => {
        for (const event of list) await dispatch(event)
      }))
    }
    super(redis, { ...consumer, group: WEBHOOK_GROUP, name: 'webhook dispatcher', startAt: '$', handle })
  }
}
