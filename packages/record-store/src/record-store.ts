import type { TicketEnvelope } from '@request-out/contracts'
import { retryPolicy } from '@request-out/product-catalog'
import { redisKeys, ticketGroup, ticketKey, type RedisKeys } from '@request-out/redis-keys'
import type { Cluster, Redis } from 'ioredis'
import { ERASED_FINGERPRINT } from './ticket-fingerprint.js'
import { TicketField } from './ticket-fields.js'
import { TicketEventType, parseTicketEvent, type TicketEvent } from './ticket-events.js'
import {
  existingTicket, fingerprintValue, parseRecord,
  type AuditEntry, type CancelRequest, type ClaimResult, type DeliveryState, type ExistingTicket, type Fingerprint, type RecordTiming, type TicketState
} from './ticket-state.js'
import { claimTicketScript } from './scripts/claim-ticket.js'
import { writeRecordScript } from './scripts/write-record.js'
import { watchReadScript } from './scripts/watch-read.js'
import { failedTryScript } from './scripts/failed-try.js'
import { requestCancelScript } from './scripts/request-cancel.js'
import { eraseTicketScript } from './scripts/erase-ticket.js'
import { reopenTicketScript } from './scripts/reopen-ticket.js'

type RedisClient = Redis | Cluster

export interface RecordStoreOptions {
  /** Key prefix, the same QUEUE_PREFIX as the queues. */
  prefix: string
  /** How long a ticket and its record are kept, counted from acceptance and again from the record. */
  ttlSeconds: number
}

/**
 * Tickets and their final records. A ticket is one Redis hash (TicketField) holding the
 * fingerprint of its fields, its product and, once final, its record (the envelope a GET answers
 * with). Every change is also appended to the ticket group's event stream (ticket-events.ts), by
 * the script that makes it: no consumer can miss a change, and it costs no extra round trip.
 */
export class RecordStore {
  readonly #redis: RedisClient
  readonly #keys: RedisKeys
  readonly #ttl: number

  constructor (redis: RedisClient, options: RecordStoreOptions) {
    for (const script of [claimTicketScript, writeRecordScript, failedTryScript, requestCancelScript, watchReadScript, eraseTicketScript, reopenTicketScript]) script.define(redis)
    this.#redis = redis
    this.#keys = redisKeys(options.prefix)
    this.#ttl = options.ttlSeconds
  }

  #ticket (clientId: string, ticketId: string): { ticket: string, events: string } {
    return { ticket: this.#keys.ticket(clientId, ticketId), events: this.#keys.ticketEvents(ticketGroup(clientId, ticketId)) }
  }

  /**
   * Registers a new ticket (and appends `accepted`, with the trace id when the POST was traced), or
   * tells what is already there under this client's TicketId.
   */
  async claim (clientId: string, ticketId: string, fingerprint: Fingerprint, product: string, requestId = '', traceId = ''): Promise<ClaimResult> {
    const at = Date.now()
    const reply = await claimTicketScript.run(this.#redis, this.#ticket(clientId, ticketId), {
      fingerprint: fingerprintValue(fingerprint), product, at, ttlSeconds: this.#ttl, clientId, ticketId, requestId, traceId
    })
    if (reply.outcome === 'claimed') return { outcome: 'claimed', acceptedAt: at }
    return { ...existingTicket(fingerprint, reply.fingerprint, reply.record, reply.cancelRequested), acceptedAt: reply.acceptedAt }
  }

  /**
   * What a claim would answer for a ticket already there, without claiming anything: for a path
   * that must not create a ticket (a client whose quota is used up re-POSTs one). One HMGET.
   */
  async existing (clientId: string, ticketId: string, fingerprint: Fingerprint): Promise<ExistingTicket | undefined> {
    const [fp, rec, cancel] = await this.#redis.hmget(this.#keys.ticket(clientId, ticketId), TicketField.fingerprint, TicketField.record, TicketField.cancel)
    return typeof fp !== 'string' ? undefined : existingTicket(fingerprint, fp, rec ?? null, cancel !== null)
  }

  /**
   * The ticket as stored. `watch`: a long poll reads it, so its record, when it comes, is announced
   * on the records channel (RecordWaiter); the waiter must be registered before this read.
   */
  async read (clientId: string, ticketId: string, watch = false): Promise<TicketState> {
    const key = this.#keys.ticket(clientId, ticketId)
    const { product = null, record = null } = watch
      ? await watchReadScript.run(this.#redis, { ticket: key }, {})
      : await this.#redis.hmget(key, TicketField.product, TicketField.record).then(([p, r]) => ({ product: p, record: r }))
    if (product === null && record === null) return { exists: false }
    return { exists: true, product: product ?? '', record: parseRecord(record) }
  }

  /** The acceptance time the ticket's hash holds (epoch ms), or undefined once it is gone. */
  async acceptedAt (clientId: string, ticketId: string): Promise<number | undefined> {
    const at = await this.#redis.hget(this.#keys.ticket(clientId, ticketId), TicketField.acceptedAt)
    return at === null ? undefined : Number(at)
  }

  /** What an event stream of the ticket starts from: its product, acceptance time and record code (one HMGET); undefined once it is gone. */
  async eventsState (clientId: string, ticketId: string): Promise<{ product: string, acceptedAt: number, code: string | undefined } | undefined> {
    const [product, at, code] = await this.#redis.hmget(this.#keys.ticket(clientId, ticketId), TicketField.product, TicketField.acceptedAt, TicketField.code)
    if (typeof product !== 'string' || typeof at !== 'string') return undefined
    return { product, acceptedAt: Number(at), code: code ?? undefined }
  }

  /** The code of the ticket's record when no later outcome may replace it (the retry policy says which), else undefined. */
  async finalCode (clientId: string, ticketId: string): Promise<string | undefined> {
    const code = await this.#redis.hget(this.#keys.ticket(clientId, ticketId), TicketField.code)
    return retryPolicy.isFinalRecord(code) ? code ?? undefined : undefined
  }

  /** Whether the ticket is final already, or its cancellation was asked (one HMGET). */
  async deliveryState (clientId: string, ticketId: string): Promise<DeliveryState> {
    const [code, cancel] = await this.#redis.hmget(this.#keys.ticket(clientId, ticketId), TicketField.code, TicketField.cancel)
    return { finalCode: retryPolicy.isFinalRecord(code) ? code ?? undefined : undefined, cancelRequested: cancel !== null }
  }

  /**
   * Asks for the ticket's cancellation (once): marks it, appends `cancel-requested` and announces it
   * to the workers. Says what the ticket was: unknown, final (with its record), or being cancelled.
   */
  async requestCancel (clientId: string, ticketId: string, by: string): Promise<CancelRequest> {
    const reply = await requestCancelScript.run(this.#redis, this.#ticket(clientId, ticketId), {
      at: Date.now(), clientId, ticketId, by, channel: this.#keys.cancels, member: ticketKey(clientId, ticketId)
    })
    if (reply.outcome === 'final') return { ...reply, record: parseRecord(reply.record) as TicketEnvelope }
    return reply
  }

  /** True when the ticket has a record no later outcome may replace. */
  async hasFinalRecord (clientId: string, ticketId: string): Promise<boolean> {
    return (await this.finalCode(clientId, ticketId)) !== undefined
  }

  /**
   * Stores the ticket's record unless a final one is there already (a job delivered twice must not
   * overwrite the first outcome; only a record the retry policy does not call final gives way), appends
   * the `record` event, then announces it to long polls. Resolves true when written.
   */
  async writeRecord (clientId: string, ticketId: string, record: TicketEnvelope, timing: RecordTiming = { startedAt: Date.now(), tries: 1 }): Promise<boolean> {
    return await writeRecordScript.run(this.#redis, this.#ticket(clientId, ticketId), {
      record: JSON.stringify(record),
      ttlSeconds: this.#ttl,
      channel: this.#keys.records,
      member: ticketKey(clientId, ticketId),
      code: record.Code ?? 'SUCCESS',
      clientId,
      ticketId,
      at: Date.now(),
      startedAt: timing.startedAt,
      tries: timing.tries,
      replaceableCode: retryPolicy.exhaustedCode,
      traceparent: timing.traceparent ?? '',
      tryId: timing.tryId ?? '',
      worker: timing.worker ?? ''
    }) === 'written'
  }

  /** Appends `try-failed` for a try that failed (the last one too); `error` must be scrubbed already. */
  async recordFailedTry (clientId: string, ticketId: string, t: { attempt: number, error: string, startedAt: number, worker: string }): Promise<void> {
    const at = Date.now()
    await failedTryScript.run(this.#redis, this.#ticket(clientId, ticketId), {
      clientId, ticketId, at, attempt: t.attempt, error: t.error, outcome: 'failed', startedAt: t.startedAt, durationMs: at - t.startedAt, worker: t.worker, stalls: ''
    })
  }

  /**
   * Appends `try-failed` with outcome `lost` for the try a dead worker left (the job stalled
   * `stalls` times so far), once per stall; true when it was appended now.
   */
  async recordLostTry (clientId: string, ticketId: string, attempt: number, stalls: number, worker: string): Promise<boolean> {
    return await failedTryScript.run(this.#redis, this.#ticket(clientId, ticketId), {
      clientId, ticketId, at: Date.now(), attempt, error: 'the worker running this try stopped (it died, or lost Redis) before the try ended', outcome: 'lost', startedAt: '', durationMs: '', worker, stalls
    }) === 'appended'
  }

  /**
   * Reopens a PRODUCT_FAILED ticket of the acceptance `acceptedAt` for redrive `redrive` (its
   * record goes, a `redriven` event is appended), or makes it again when Redis forgot it and
   * `forgotten` says how (the fingerprint of the input the history kept, its product); what was
   * found otherwise (reopen-ticket.ts).
   */
  async reopenForRedrive (clientId: string, ticketId: string, acceptedAt: number, redrive: string, forgotten?: { fingerprint: string, product: string }): Promise<'gone' | 'newer' | 'final' | 'busy' | 'mine' | 'reopened' | 'recreated' | 'erased'> {
    return await reopenTicketScript.run(this.#redis, this.#ticket(clientId, ticketId), {
      redrive,
      acceptedAt,
      failedCode: retryPolicy.exhaustedCode,
      clientId,
      ticketId,
      at: Date.now(),
      fingerprint: forgotten?.fingerprint ?? '',
      product: forgotten?.product ?? '',
      ttlSeconds: this.#ttl
    })
  }

  /**
   * Appends an operator's action to the event streams (the history writer stores it in the audit
   * trail). Called before the action is done: an action whose entry cannot be written is refused.
   */
  async appendAudit (entry: AuditEntry): Promise<void> {
    const group = ticketGroup(entry.clientId ?? '', entry.ticketId ?? entry.target)
    await this.#redis.xadd(this.#keys.ticketEvents(group), '*', 'type', TicketEventType.AUDIT,
      'clientId', entry.clientId ?? '', 'ticketId', entry.ticketId ?? '', 'at', String(Date.now()),
      'actor', entry.actor, 'address', entry.address, 'action', entry.action, 'target', entry.target,
      'before', JSON.stringify(entry.before ?? null), 'after', JSON.stringify(entry.after ?? null))
  }

  /**
   * Replaces personal fields in the ticket's stored record (right to erasure) and its fingerprint
   * (made of its fields, personal ones included) by ERASED_FINGERPRINT; true when Redis held a
   * record. `erase` maps the record to its erased form.
   */
  async eraseRecord (clientId: string, ticketId: string, erase: (record: TicketEnvelope) => TicketEnvelope): Promise<boolean> {
    const key = this.#keys.ticket(clientId, ticketId)
    const record = parseRecord(await this.#redis.hget(key, TicketField.record))
    if (record === undefined) return false
    await eraseTicketScript.run(this.#redis, { ticket: key }, { record: JSON.stringify(erase(record)), fingerprint: ERASED_FINGERPRINT })
    return true
  }

  /** Every event of one ticket still in its group's stream, oldest first (a consumer's view, for tests and tools). */
  async eventsOf (clientId: string, ticketId: string): Promise<TicketEvent[]> {
    const entries = await this.#redis.xrange(this.#ticket(clientId, ticketId).events, '-', '+')
    return entries.map(([id, flat]) => parseTicketEvent(id, flat))
      .filter((e): e is TicketEvent => e !== undefined && e.clientId === clientId && e.ticketId === ticketId)
  }
}
