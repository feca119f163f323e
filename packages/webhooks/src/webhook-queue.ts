import type { WebhookEventType } from '@request-out/contracts'

/**
 * A delivery job: one event for one client's endpoint. Its body is frozen when the event happened
 * and kept beside the ticket (DeliveryState), not in the job: it holds personal values, and an
 * erasure rewrites it there for every delivery still to come.
 */
export interface DeliveryJob {
  clientId: string
  ticketId: string
  webhookId: string
  type: WebhookEventType
  /** Epoch seconds of the event (the body's `timestamp`; each attempt's header carries its own time). */
  timestamp: number
  /** Only in jobs queued before bodies left them. */
  body?: string
}

export const DELIVERY_JOB_NAME = 'delivery'

/** WEBHOOK_RETRY_SCHEDULE as milliseconds between attempts. */
export function retrySchedule (text: string): number[] {
  return text.split(',').map((s) => Number(s.trim()) * 1000)
}

/** A failed attempt the receiver asked to wait for (`Retry-After`), in ms. */
export class DeliveryFailure extends Error {
  override name = 'DeliveryFailure'
  constructor (message: string, readonly retryAfterMs?: number) {
    super(message)
  }
}

/** BullMQ job options of a delivery: one attempt, then one retry per entry of the schedule. */
export function deliveryJobOptions (schedule: number[]) {
  return {
    attempts: schedule.length + 1,
    backoff: { type: 'webhook' },
    removeOnComplete: { age: 86_400, count: 10_000 },
    removeOnFail: { age: 7 * 86_400, count: 10_000 }
  }
}

/**
 * The delay before retry n (1-based): the schedule's entry with ±20 % jitter, or the receiver's
 * Retry-After when it gave one (at most a day).
 */
export function deliveryBackoff (schedule: number[]) {
  return (attemptsMade: number, _type?: string, err?: Error): number => {
    if (err instanceof DeliveryFailure && err.retryAfterMs !== undefined) return Math.min(err.retryAfterMs, 86_400_000)
    const base = schedule[Math.min(attemptsMade, schedule.length) - 1] ?? 0
    return Math.round(base * (0.8 + Math.random() * 0.4))
  }
}

/** `Retry-After` (seconds or an HTTP date) in ms, or undefined. */
export function retryAfterMs (value: string | string[] | undefined): number | undefined {
  const v = Array.isArray(value) ? value[0] : value
  if (v === undefined || v.trim() === '') return undefined
  if (/^\d+$/.test(v.trim())) return Number(v.trim()) * 1000
  const at = Date.parse(v)
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now())
}
