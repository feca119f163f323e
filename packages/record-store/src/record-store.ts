import { Value } from '@sinclair/typebox/value'
import { TicketEnvelope } from '@request-out/contracts'
import { retryPolicy } from '@request-out/product-catalog'
import type { Cluster, Redis } from 'ioredis'
import { ticketKey } from './ticket-key.js'
import { ERASED_FINGERPRINT, type TicketFingerprint } from './ticket-fingerprint.js'
import { legacyTicketRedisKey, ticketEventStream, ticketEventStreams, ticketGroup, ticketRedisKey } from './ticket-layout.js'
import { TicketEventType, parseTicketEvent, type TicketEvent } from './ticket-events.js'

type RedisClient = Redis | Cluster

export interface RecordStoreOptions {
  /** Key prefix, the same QUEUE_PREFIX as the queues. */
  prefix: string
  /** How long a ticket and its record are kept, counted from acceptance and again from the record. */
  ttlSeconds: number
}

export type ClaimResult =
  | { outcome: 'claimed' }
  | { outcome: 'existing', sameFields: boolean, record: TicketEnvelope | undefined, cancelRequested: boolean }

export type ExistingTicket = Extract<ClaimResult, { outcome: 'existing' }>

/** What a claim (or a look without claiming) tells of a ticket already there. */
const existingTicket = (sameFields: boolean, rec: string | null, cancelRequested: boolean): ExistingTicket =>
  ({ outcome: 'existing', sameFields, record: parseRecord(rec), cancelRequested })

/** A ticket's fingerprint, or a bare value compared exactly. */
export type Fingerprint = string | TicketFingerprint
const valueOf = (fp: Fingerprint): string => typeof fp === 'string' ? fp : fp.value
const sameAs = (fp: Fingerprint, stored: string): boolean => typeof fp === 'string' ? fp === stored : fp.matches(stored)

export type TicketState =
  | { exists: false }
  | { exists: true, product: string, record: TicketEnvelope | undefined }

// A ticket's hash and its group's event stream share a hash tag (ticket-layout.ts), so each script
// touches one cluster slot: valid on Redis Cluster too. Every change appends its event in the same
// script: no consumer can miss a change, and the success path costs no extra round trip.
const CLAIM = `
if redis.call('EXISTS', KEYS[1]) == 1 then
  local v = redis.call('HMGET', KEYS[1], 'fp', 'rec', 'cancel')
  return {0, v[1] or '', v[2] or '', v[3] and 1 or 0}
end
redis.call('HSET', KEYS[1], 'fp', ARGV[1], 'product', ARGV[2], 'at', ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[4])
local event = {'type', 'accepted', 'clientId', ARGV[5], 'ticketId', ARGV[6], 'at', ARGV[3],
  'product', ARGV[2], 'requestId', ARGV[7]}
if ARGV[8] ~= '' then event[#event + 1] = 'traceId'; event[#event + 1] = ARGV[8] end
redis.call('XADD', KEYS[2], '*', unpack(event))
return {1, '', ''}
`
// The event carries no record: streams are read by many (history, webhooks, and kept for a while)
// and cannot be edited, so a record's personal values live only in the hash, where an erasure
// reaches them; a consumer reads the record from the hash (TicketEventConsumer's withRecords).
// A record is final, except one whose code is ARGV[11] (the retry policy's exhausted code): a later
// outcome of the same ticket (an operator's retry, or a late duplicate delivery) replaces it, and
// so does that code again from another try (a retry that failed once more appends its record
// event too). The same try's outcome written twice (the processor, then the failed-job handler)
// is one write: a try is named by ARGV[13] (the job's processedOn; none: never replaced). It is
// announced on the records channel only when a long poll waits on the ticket (`w`, set by
// WATCH_READ): intakes do not each receive every record.
const WRITE_RECORD = `
local v = redis.call('HMGET', KEYS[1], 'code', 'w', 'try')
local current = v[1]
if current and (current ~= ARGV[11] or (ARGV[5] == ARGV[11] and (ARGV[13] == '' or v[3] == ARGV[13]))) then return 0 end
redis.call('HSET', KEYS[1], 'rec', ARGV[1], 'code', ARGV[5], 'try', ARGV[13])
redis.call('EXPIRE', KEYS[1], ARGV[2])
local acceptedAt = redis.call('HGET', KEYS[1], 'at') or ''
local event = {'type', 'record', 'clientId', ARGV[6], 'ticketId', ARGV[7], 'at', ARGV[8],
  'code', ARGV[5], 'startedAt', ARGV[9], 'tries', ARGV[10], 'acceptedAt', acceptedAt}
if ARGV[12] ~= '' then event[#event + 1] = 'traceparent'; event[#event + 1] = ARGV[12] end
redis.call('XADD', KEYS[2], '*', unpack(event))
if v[2] then redis.call('PUBLISH', ARGV[3], ARGV[4]) end
return 1
`

// A read by a long poll: marks the ticket as waited on (its record will be announced) unless the
// record is there already, in the same step as the read, so a record cannot slip in between.
const WATCH_READ = `
local v = redis.call('HMGET', KEYS[1], 'product', 'rec')
if v[1] and not v[2] then redis.call('HSET', KEYS[1], 'w', '1') end
return {v[1] or '', v[2] or ''}
`

// The acceptance time names which acceptance of a TicketId an event belongs to (a TicketId may be
// accepted again once its ticket has expired): history keys tickets by client, TicketId and it.
const FAILED_TRY = `
local acceptedAt = redis.call('HGET', KEYS[1], 'at') or ''
redis.call('XADD', KEYS[2], '*', 'type', 'try-failed', 'clientId', ARGV[1], 'ticketId', ARGV[2], 'at', ARGV[3],
  'attempt', ARGV[4], 'error', ARGV[5], 'acceptedAt', acceptedAt)
return 1
`

// A cancellation is asked once: the ticket hash gets `cancel` (when), the event is appended, and
// every worker hears of it (the one running the ticket aborts it). Answers what the ticket is:
// 0 unknown, 1 cancellation asked now, 2 it has its record (returned), 3 asked before, still under way.
const REQUEST_CANCEL = `
if redis.call('EXISTS', KEYS[1]) == 0 then return {0, '', ''} end
local v = redis.call('HMGET', KEYS[1], 'rec', 'code', 'cancel', 'product', 'at')
if v[2] then return {2, v[1] or '', v[4] or ''} end
if v[3] then return {3, '', v[4] or ''} end
redis.call('HSET', KEYS[1], 'cancel', ARGV[1])
redis.call('XADD', KEYS[2], '*', 'type', 'cancel-requested', 'clientId', ARGV[2], 'ticketId', ARGV[3], 'at', ARGV[1],
  'by', ARGV[4], 'acceptedAt', v[5] or '')
redis.call('PUBLISH', ARGV[5], ARGV[6])
return {1, '', v[4] or ''}
`

interface ScriptCommands {
  roClaimTicket: (key: string, stream: string, fp: string, product: string, at: string, ttl: string,
    clientId: string, ticketId: string, requestId: string, traceId: string) => Promise<[number, string, string, number?]>
  roWatchRead: (key: string) => Promise<[string, string]>
  roRequestCancel: (key: string, stream: string, at: string, clientId: string, ticketId: string, by: string, channel: string, member: string) => Promise<[number, string, string]>
  roFailedTry: (key: string, stream: string, clientId: string, ticketId: string, at: string, attempt: string, error: string) => Promise<number>
  roWriteRecord: (key: string, stream: string, record: string, ttl: string, channel: string, member: string, code: string,
    clientId: string, ticketId: string, at: string, startedAt: string, tries: string, replaceable: string, traceparent: string, tryId: string) => Promise<number>
}

export function recordChannel (prefix: string): string {
  return `${prefix}:records`
}

/** Where cancellations are announced to every worker (the message is the ticket key). */
export function cancelChannel (prefix: string): string {
  return `${prefix}:cancels`
}

export type CancelRequest =
  | { outcome: 'unknown' }
  | { outcome: 'requested' | 'already-requested', product: string }
  | { outcome: 'final', product: string, record: TicketEnvelope }

/** What a worker needs to know before it runs a delivery that may not be the first. */
export interface DeliveryState {
  /** The code of a record no later outcome may replace, if there is one. */
  finalCode: string | undefined
  cancelRequested: boolean
}

/** An operator's action, as the audit trail keeps it. */
export interface AuditEntry {
  /** Who: the operator's username. */
  actor: string
  /** From which address. */
  address: string
  /** What, e.g. `availability.set`, `job.retry`, `revocation.add`. */
  action: string
  /** What it was done to, e.g. a product key, a job id or a username. */
  target: string
  clientId?: string
  ticketId?: string
  before?: unknown
  after?: unknown
}

/** When the try that produced a record started, and how many tries it took (for the event). */
export interface RecordTiming {
  startedAt: number
  tries: number
  /** The span that stored it (W3C traceparent), when traced: the record's webhooks join the ticket's trace. */
  traceparent?: string | undefined
  /** Names the try whose outcome this is (the job's processedOn): the same try's outcome written twice is one write. */
  tryId?: string | undefined
}

/**
 * Tickets and their final records. A ticket is one Redis hash holding the fingerprint of its
 * fields, its product and, once final, its record (the envelope a GET answers with). Every change
 * is also appended to the ticket group's event stream (ticket-events.ts).
 */
export class RecordStore {
  readonly #redis: RedisClient & ScriptCommands
  readonly #prefix: string
  readonly #ttl: string
  readonly #channel: string

  constructor (redis: RedisClient, options: RecordStoreOptions) {
    if (!('roClaimTicket' in redis)) {
      redis.defineCommand('roClaimTicket', { numberOfKeys: 2, lua: CLAIM })
      redis.defineCommand('roWriteRecord', { numberOfKeys: 2, lua: WRITE_RECORD })
      redis.defineCommand('roFailedTry', { numberOfKeys: 2, lua: FAILED_TRY })
      redis.defineCommand('roRequestCancel', { numberOfKeys: 2, lua: REQUEST_CANCEL })
      redis.defineCommand('roWatchRead', { numberOfKeys: 1, lua: WATCH_READ })
    }
    this.#redis = redis as RedisClient & ScriptCommands
    this.#prefix = options.prefix
    this.#ttl = String(options.ttlSeconds)
    this.#channel = recordChannel(options.prefix)
  }

  #keys (clientId: string, ticketId: string): [string, string] {
    return [ticketRedisKey(this.#prefix, clientId, ticketId), ticketEventStream(this.#prefix, ticketGroup(clientId, ticketId))]
  }

  /**
   * Registers a new ticket (and appends `accepted`, with the trace id when the POST was traced), or
   * tells what is already there under this client's TicketId.
   */
  async claim (clientId: string, ticketId: string, fingerprint: Fingerprint, product: string, requestId = '', traceId = ''): Promise<ClaimResult> {
    const [key, stream] = this.#keys(clientId, ticketId)
    const [created, fp, rec, cancel] = await this.#redis.roClaimTicket(
      key, stream, valueOf(fingerprint), product, String(Date.now()), this.#ttl, clientId, ticketId, requestId, traceId
    )
    if (created === 1) return { outcome: 'claimed' }
    return existingTicket(sameAs(fingerprint, fp ?? ''), rec, cancel === 1)
  }

  /**
   * What a claim would answer for a ticket already there, without claiming anything: for a path
   * that must not create a ticket (a client whose quota is used up re-POSTs one). One HMGET.
   */
  async existing (clientId: string, ticketId: string, fingerprint: Fingerprint): Promise<ExistingTicket | undefined> {
    const [fp, rec, cancel] = await this.#redis.hmget(this.#keys(clientId, ticketId)[0], 'fp', 'rec', 'cancel')
    return typeof fp !== 'string' ? undefined : existingTicket(sameAs(fingerprint, fp), rec ?? null, cancel !== null)
  }

  /**
   * The ticket as stored. `watch`: a long poll reads it, so its record, when it comes, is announced
   * on the records channel (RecordWaiter); the waiter must be registered before this read.
   */
  async read (clientId: string, ticketId: string, watch = false): Promise<TicketState> {
    const [key] = this.#keys(clientId, ticketId)
    let [product = null, rec = null] = watch
      ? (await this.#redis.roWatchRead(key)).map((v) => v === '' ? null : v)
      : await this.#redis.hmget(key, 'product', 'rec')
    if (product === null && rec === null) {
      // Stored before ticket groups: readable until it expires (one RECORD_TTL_SECONDS after the upgrade).
      [product = null, rec = null] = await this.#redis.hmget(legacyTicketRedisKey(this.#prefix, clientId, ticketId), 'product', 'rec')
    }
    if (product === null && rec === null) return { exists: false }
    return { exists: true, product: product ?? '', record: parseRecord(rec) }
  }

  /** The code of the ticket's record when no later outcome may replace it (the retry policy says which), else undefined. */
  async finalCode (clientId: string, ticketId: string): Promise<string | undefined> {
    const code = await this.#redis.hget(this.#keys(clientId, ticketId)[0], 'code')
    return retryPolicy.isFinalRecord(code) ? code ?? undefined : undefined
  }

  /** Whether the ticket is final already, or its cancellation was asked (one HMGET). */
  async deliveryState (clientId: string, ticketId: string): Promise<DeliveryState> {
    const [code, cancel] = await this.#redis.hmget(this.#keys(clientId, ticketId)[0], 'code', 'cancel')
    return { finalCode: retryPolicy.isFinalRecord(code) ? code ?? undefined : undefined, cancelRequested: cancel !== null }
  }

  /**
   * Asks for the ticket's cancellation (once): marks it, appends `cancel-requested` and announces it
   * to the workers. Says what the ticket was: unknown, final (with its record), or being cancelled.
   */
  async requestCancel (clientId: string, ticketId: string, by: string): Promise<CancelRequest> {
    const [key, stream] = this.#keys(clientId, ticketId)
    const [state, rec, product] = await this.#redis.roRequestCancel(key, stream, String(Date.now()), clientId, ticketId, by,
      cancelChannel(this.#prefix), ticketKey(clientId, ticketId))
    if (state === 0) return { outcome: 'unknown' }
    if (state === 2) return { outcome: 'final', product, record: parseRecord(rec) as TicketEnvelope }
    return { outcome: state === 1 ? 'requested' : 'already-requested', product }
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
    const [key, stream] = this.#keys(clientId, ticketId)
    const code = record.Code ?? 'SUCCESS'
    const written = await this.#redis.roWriteRecord(key, stream, JSON.stringify(record), this.#ttl, this.#channel,
      ticketKey(clientId, ticketId), code, clientId, ticketId, String(Date.now()), String(timing.startedAt), String(timing.tries),
      retryPolicy.exhaustedCode, timing.traceparent ?? '', timing.tryId ?? '')
    return written === 1
  }

  /** Appends `try-failed` for a try that will be retried; `error` must be scrubbed already. */
  async recordFailedTry (clientId: string, ticketId: string, attempt: number, error: string): Promise<void> {
    const [key, stream] = this.#keys(clientId, ticketId)
    await this.#redis.roFailedTry(key, stream, clientId, ticketId, String(Date.now()), String(attempt), error)
  }

  /**
   * Appends an operator's action to the event streams (the history writer stores it in the audit
   * trail). Called before the action is done: an action whose entry cannot be written is refused.
   */
  async appendAudit (entry: AuditEntry): Promise<void> {
    const group = ticketGroup(entry.clientId ?? '', entry.ticketId ?? entry.target)
    await this.#redis.xadd(ticketEventStream(this.#prefix, group), '*', 'type', TicketEventType.AUDIT,
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
    const [key] = this.#keys(clientId, ticketId)
    const record = parseRecord(await this.#redis.hget(key, 'rec'))
    if (record === undefined) return false
    // HSET XX semantics: only while the ticket is still there, so an expired ticket is not revived.
    await this.#redis.eval("if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], 'rec', ARGV[1], 'fp', ARGV[2]) end return 1",
      1, key, JSON.stringify(erase(record)), ERASED_FINGERPRINT)
    return true
  }

  /** Every event of one ticket still in its group's stream, oldest first (a consumer's view, for tests and tools). */
  async eventsOf (clientId: string, ticketId: string): Promise<TicketEvent[]> {
    const [, stream] = this.#keys(clientId, ticketId)
    const entries = await this.#redis.xrange(stream, '-', '+')
    return entries.map(([id, flat]) => parseTicketEvent(id, flat))
      .filter((e): e is TicketEvent => e !== undefined && e.clientId === clientId && e.ticketId === ticketId)
  }

  /**
   * Trims each group's stream to what its consumers still need: entries before the oldest one any
   * consumer group has not read (or not acknowledged) go. A stream nobody consumes keeps
   * `retentionMs` of events. Safe to run from every worker at once.
   */
  async trimEventStreams (retentionMs: number): Promise<number> {
    let removed = 0
    for (const stream of ticketEventStreams(this.#prefix)) {
      const keep = await this.#oldestNeeded(stream, Date.now() - retentionMs)
      if (keep !== undefined) removed += Number(await this.#redis.xtrim(stream, 'MINID', keep))
    }
    return removed
  }

  async #oldestNeeded (stream: string, fallbackMs: number): Promise<string | undefined> {
    let groups: unknown[]
    try {
      groups = await this.#redis.xinfo('GROUPS', stream) as unknown[]
    } catch {
      return undefined // no such stream yet
    }
    if (groups.length === 0) return `${fallbackMs}-0`
    let oldest: string | undefined
    for (const raw of groups) {
      const info = pairs(raw as unknown[])
      const name = String(info.name)
      const pending = Number(info.pending ?? 0)
      let needed = String(info['last-delivered-id'] ?? '0-0')
      if (pending > 0) {
        const summary = await this.#redis.xpending(stream, name) as unknown[]
        needed = String(summary[1] ?? needed)
      }
      if (oldest === undefined || compareIds(needed, oldest) < 0) oldest = needed
    }
    return oldest
  }
}

const pairs = (flat: unknown[]): Record<string, unknown> => {
  const out: Record<string, unknown> = {}
  for (let i = 0; i + 1 < flat.length; i += 2) out[String(flat[i])] = flat[i + 1]
  return out
}

function compareIds (a: string, b: string): number {
  const [am = 0, as = 0] = a.split('-').map(Number)
  const [bm = 0, bs = 0] = b.split('-').map(Number)
  return am === bm ? as - bs : am - bm
}

/** A stored record, checked: a corrupt one fails loudly (500, logged) rather than reaching a client. */
function parseRecord (raw: string | null | undefined): TicketEnvelope | undefined {
  if (raw === null || raw === undefined || raw === '') return undefined
  let record: unknown
  try {
    record = JSON.parse(raw)
  } catch {
    record = undefined
  }
  if (!Value.Check(TicketEnvelope, record)) throw new Error('a stored ticket record is not a valid envelope')
  return record
}
