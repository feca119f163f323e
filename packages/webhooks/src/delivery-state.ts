import type { Cluster, Redis } from 'ioredis'
import type { DeliveryAttempt, WebhookEventType } from '@request-out/contracts'
import { acquireLeasedSlot, defineLeasedSlotCommands, releaseLeasedSlot } from '@request-out/redis-connection'
import { redisKeys, type RedisKeys } from '@request-out/redis-keys'
import { countOutcomeScript } from './scripts/count-outcome.js'
import { freezeEventScript } from './scripts/freeze-event.js'
import { logAttemptScript } from './scripts/log-attempt.js'
import { rewriteEventsScript } from './scripts/rewrite-events.js'

const LOG_LENGTH = 100
/**
 * After this many failures in a row an endpoint's circuit opens: its deliveries wait, one probe
 * goes first. High enough that a flaky but living receiver (a quarter of its answers 500) does not
 * trip it (0.25^20 per run of deliveries), low enough that a dead one does within seconds under load.
 */
const BREAKER_THRESHOLD = 20
const BREAKER_OPEN_MS = 30_000

/** The field of a ticket's events hash that names its newest event (webhook ids start with `msg_`). */
const LAST = 'last'

/** The event a ticket's deliveries carry: frozen when it happened, re-sent as it was. */
export interface FrozenEvent {
  webhookId: string
  type: WebhookEventType
  /** Epoch seconds. */
  timestamp: number
  body: string
}

/**
 * What deliveries keep in Redis besides their queue: each ticket's delivery log and frozen events,
 * each endpoint's in-flight set, circuit breaker and recent outcome counts. One key per script:
 * valid on Redis Cluster.
 */
export class DeliveryState {
  readonly #redis: Redis | Cluster
  readonly #keys: RedisKeys
  readonly #ttlSeconds: number

  constructor (redis: Redis | Cluster, prefix: string, ttlSeconds: number) {
    defineLeasedSlotCommands(redis)
    for (const script of [rewriteEventsScript, freezeEventScript, logAttemptScript, countOutcomeScript]) script.define(redis)
    this.#redis = redis
    this.#keys = redisKeys(prefix)
    this.#ttlSeconds = ttlSeconds
  }

  /**
   * Keeps the event, as its deliveries and re-sends send it, beside the ticket's other events: a
   * delivery job carries only its id, so an erasure that rewrites the events here reaches every
   * delivery still to come.
   */
  async freeze (ticket: string, event: FrozenEvent): Promise<void> {
    await freezeEventScript.run(this.#redis, { events: this.#keys.webhookEvents(ticket) }, { webhookId: event.webhookId, event: JSON.stringify(event), last: LAST, ttlSeconds: this.#ttlSeconds })
  }

  /** The ticket's newest event (what a re-send sends). */
  async frozen (ticket: string): Promise<FrozenEvent | undefined> {
    const all = await this.#redis.hgetall(this.#keys.webhookEvents(ticket))
    const last = all[LAST]
    if (last !== undefined && all[last] !== undefined) return JSON.parse(all[last]) as FrozenEvent
    const legacy = await this.#redis.get(this.#keys.webhookLastEvent(ticket))
    return legacy === null ? undefined : JSON.parse(legacy) as FrozenEvent
  }

  /** One event of the ticket, as frozen (or as rewritten by an erasure); undefined once expired. */
  async event (ticket: string, webhookId: string): Promise<FrozenEvent | undefined> {
    const raw = await this.#redis.hget(this.#keys.webhookEvents(ticket), webhookId)
    if (raw !== null) return JSON.parse(raw) as FrozenEvent
    const legacy = await this.frozen(ticket)
    return legacy?.webhookId === webhookId ? legacy : undefined
  }

  /** Rewrites every kept event of the ticket (an erasure); resolves how many. An event kept the old way goes. */
  async rewriteEvents (ticket: string, rewrite: (event: FrozenEvent) => FrozenEvent): Promise<number> {
    const key = this.#keys.webhookEvents(ticket)
    const all = await this.#redis.hgetall(key)
    const fields = Object.entries(all).filter(([field]) => field !== LAST)
      .flatMap(([field, raw]) => [field, JSON.stringify(rewrite(JSON.parse(raw) as FrozenEvent))])
    // Only while the events are still kept: an expired ticket's are not revived.
    if (fields.length > 0) await rewriteEventsScript.run(this.#redis, { events: key }, { fields: JSON.stringify(fields) })
    await this.#redis.del(this.#keys.webhookLastEvent(ticket))
    return fields.length / 2
  }

  async logAttempt (ticket: string, attempt: DeliveryAttempt): Promise<void> {
    await logAttemptScript.run(this.#redis, { log: this.#keys.webhookLog(ticket) }, { attempt: JSON.stringify(attempt), length: LOG_LENGTH, ttlSeconds: this.#ttlSeconds })
  }

  /** Newest first. */
  async attempts (ticket: string): Promise<DeliveryAttempt[]> {
    return (await this.#redis.lrange(this.#keys.webhookLog(ticket), 0, LOG_LENGTH - 1)).map((raw) => JSON.parse(raw) as DeliveryAttempt)
  }

  /** One of the endpoint's `cap` in-flight places (over every worker), held until released or the lease ends. */
  async acquireSlot (clientId: string, jobId: string, cap: number, leaseMs: number): Promise<boolean> {
    return await acquireLeasedSlot(this.#redis, this.#keys.webhookInFlight(clientId), jobId, cap, leaseMs)
  }

  async releaseSlot (clientId: string, jobId: string): Promise<void> {
    await releaseLeasedSlot(this.#redis, this.#keys.webhookInFlight(clientId), jobId)
  }

  /**
   * The circuit breaker's word on a delivery: `go`, or wait until the time returned. While open,
   * one delivery (the probe) goes when the wait is over; the rest wait for its outcome.
   */
  async breaker (clientId: string): Promise<{ go: true, probe: boolean } | { go: false, untilMs: number }> {
    const key = this.#keys.webhookBreaker(clientId)
    const [failures, openUntil] = await this.#redis.hmget(key, 'failures', 'openUntil')
    if (Number(failures ?? 0) < BREAKER_THRESHOLD) return { go: true, probe: false }
    const until = Number(openUntil ?? 0)
    if (Date.now() < until) return { go: false, untilMs: until }
    // Open and due: one probe, then the circuit stays open for another period unless it succeeds.
    const probe = await this.#redis.set(this.#keys.webhookProbe(clientId), '1', 'PX', BREAKER_OPEN_MS, 'NX')
    return probe === 'OK' ? { go: true, probe: true } : { go: false, untilMs: Date.now() + BREAKER_OPEN_MS }
  }

  /** Gives back a probe that was not sent (no in-flight place was free): the next delivery probes instead. */
  async returnProbe (clientId: string): Promise<void> {
    await this.#redis.del(this.#keys.webhookProbe(clientId))
  }

  async succeeded (clientId: string): Promise<void> {
    const key = this.#keys.webhookBreaker(clientId)
    await Promise.all([this.#redis.del(key, this.#keys.webhookProbe(clientId)), this.#count(clientId, 'ok')])
  }

  async failed (clientId: string): Promise<void> {
    const key = this.#keys.webhookBreaker(clientId)
    const failures = await this.#redis.hincrby(key, 'failures', 1)
    await Promise.all([
      failures >= BREAKER_THRESHOLD ? this.#redis.hset(key, 'openUntil', String(Date.now() + BREAKER_OPEN_MS)) : undefined,
      this.#redis.expire(key, 86_400),
      this.#count(clientId, 'failed')
    ])
  }

  async #count (clientId: string, outcome: 'ok' | 'failed'): Promise<void> {
    const hour = Math.floor(Date.now() / 3600_000)
    await countOutcomeScript.run(this.#redis, { stats: this.#keys.webhookStats(clientId, hour) }, { outcome, ttlSeconds: 7200 })
  }

  /** Deliveries of the last hour or two, by outcome: the operators' page shows the success rate. */
  async recent (clientId: string): Promise<{ ok: number, failed: number }> {
    const hour = Math.floor(Date.now() / 3600_000)
    const counts = await Promise.all([hour, hour - 1].map(async (h) => this.#redis.hmget(this.#keys.webhookStats(clientId, h), 'ok', 'failed')))
    return counts.reduce((a, [ok, failed]) => ({ ok: a.ok + Number(ok ?? 0), failed: a.failed + Number(failed ?? 0) }), { ok: 0, failed: 0 })
  }
}
