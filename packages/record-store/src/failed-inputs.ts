import type { Cluster, Redis } from 'ioredis'
import type { TicketJob } from '@request-out/contracts'
import { retryPolicy } from '@request-out/product-catalog'
import { redisKeys, ticketKey } from '@request-out/redis-keys'
import { TicketEventType, type TicketEvent } from './ticket-events.js'
import { TicketField } from './ticket-fields.js'
import { ERASED_FINGERPRINT } from './ticket-fingerprint.js'

/** What the history keeps of a ticket's input for a redrive: its Data, absent when it had none (the product names the rest). */
export interface KeptInput {
  Data?: Record<string, unknown>
}

/**
 * Gives each `record` event of a ticket that failed for lack of an answer its input
 * (`fields.input`, JSON KeptInput), read from the ticket's BullMQ job, which a failed ticket
 * keeps (JOBS_KEEP_FAILED_SECONDS): the history keeps it so that a redrive can send the ticket
 * again after Redis forgot it. Only failures: a ticket that got its answer is never sent again,
 * so its input is not kept anywhere longer than its job. None for an erased ticket, or once its job is gone.
 */
export async function attachFailedInputs (redis: Redis | Cluster, prefix: string, events: TicketEvent[]): Promise<void> {
  const keys = redisKeys(prefix)
  const failed = events.filter((e) => e.type === TicketEventType.RECORD && e.fields.code === retryPolicy.exhaustedCode)
  await Promise.all(failed.map(async (e) => {
    const [product, fingerprint] = await redis.hmget(keys.ticket(e.clientId, e.ticketId), TicketField.product, TicketField.fingerprint)
    if (typeof product !== 'string' || fingerprint === ERASED_FINGERPRINT) return
    const data = await redis.hget(keys.job(product, ticketKey(e.clientId, e.ticketId)), 'data')
    if (data === null) return
    const job = JSON.parse(data) as Partial<TicketJob>
    // The job of this acceptance only: a job of an older one has another ClaimedAt.
    if (job.ClaimedAt !== undefined && e.fields.acceptedAt !== undefined && String(job.ClaimedAt) !== e.fields.acceptedAt) return
    e.fields.input = JSON.stringify(job.Data === undefined ? {} : { Data: job.Data })
  }))
}
