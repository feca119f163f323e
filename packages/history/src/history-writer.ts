import type { Cluster, Redis } from 'ioredis'
import { TicketEventConsumer, attachFailedInputs, type TicketEventConsumerOptions } from '@request-out/record-store'
import { HISTORY_GROUP } from './backlog.js'
import type { HistoryStore } from './history-store.js'

export type HistoryWriterOptions = Omit<TicketEventConsumerOptions, 'group' | 'name' | 'handle' | 'startAt'> & {
  /** The personal fields of a product's records: what a record of an erased ticket is stored without. */
  fieldsOf?: (product: string) => ReadonlySet<string>
}

/**
 * Copies the ticket event streams into PostgreSQL: a consumer of the `history` group that stores
 * each batch in one transaction (idempotent by event). Its group starts from the oldest event
 * still in the streams, so events from before history was switched on are stored too. A failed
 * ticket's record comes with its input (attachFailedInputs), for a redrive after Redis forgot it.
 */
export class HistoryWriter extends TicketEventConsumer {
  constructor (redis: Redis | Cluster, store: HistoryStore, options: HistoryWriterOptions) {
    super(redis, {
      ...options,
      group: HISTORY_GROUP,
      name: 'history writer',
      startAt: '0',
      withRecords: true,
      handle: async (events) => {
        await attachFailedInputs(redis, options.prefix, events)
        await store.writeEvents(events, options.fieldsOf)
      }
    })
  }
}
