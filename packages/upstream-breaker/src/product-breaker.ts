import { randomInt } from 'node:crypto'
import type { Breaker } from '@request-out/product-catalog'
import type { RedisClient } from '@request-out/redis-connection'
import type { RedisKeys } from '@request-out/redis-keys'
import { CLOSED, stateAt, type BreakerState, type BreakerStateName } from './breaker-state.js'
import { settleProbeScript, type ProbeOutcome } from './scripts/settle-probe.js'
import { syncOutcomesScript } from './scripts/sync-outcomes.js'
import { takeTryScript, type TryDecision } from './scripts/take-try.js'

/** What a worker's metrics and logs are told. */
export interface BreakerObserver {
  /** The breaker as this worker saw it last, and how long the product's workers still wait (ms). */
  seen: (state: BreakerStateName, pausedMs: number) => void
  /** A call of this worker moved the breaker. */
  transition: (to: BreakerStateName, reason: string) => void
  /** Redis did not answer a breaker call; the worker keeps its last view. */
  unreachable: (err: unknown) => void
}

/**
 * How often a worker adds its outcomes to the shared window and reads the state: the breaker opens
 * at most this long after the call that tips it, and no try's own outcome waits on Redis.
 */
const SYNC_MS = 200

/** How long a try refused during a probe waits before its workers ask again (the probe may close the breaker). */
const PROBE_WAIT_MS = 500

const jitter = (): number => randomInt(1_000_000) / 1_000_000

/**
 * One worker process's side of a product's upstream breaker. The decision lives in Redis beside
 * the product's queue, made by scripts every worker runs; this side keeps the state it last saw so
 * that, while closed, a try starts and ends without a Redis call of its own: outcomes are added
 * up here and sent every SYNC_MS. Once the breaker is seen open, each try asks Redis (`admit`).
 */
export class ProductBreaker {
  readonly #redis: RedisClient
  readonly #keys: { breaker: string, calls: string, limiter: string, transitions: string, probe: string }
  readonly #settings: Breaker
  readonly #leaseMs: number
  readonly #observer: BreakerObserver
  #view: BreakerState = CLOSED
  #ok = 0
  #failed = 0
  /** Failures since the last success counted here. */
  #trailing = 0
  #lastFailure = 0
  #timer: NodeJS.Timeout | undefined
  #syncing: Promise<void> | undefined

  constructor (redis: RedisClient, keys: RedisKeys, product: string, settings: Breaker, probeLeaseMs: number, observer: BreakerObserver) {
    this.#redis = redis
    this.#keys = {
      breaker: keys.breaker(product),
      calls: keys.breakerCalls(product),
      limiter: keys.limiter(product),
      transitions: keys.breakerTransitions(product),
      probe: keys.breakerProbe(product)
    }
    this.#settings = settings
    this.#leaseMs = probeLeaseMs
    this.#observer = observer
    syncOutcomesScript.define(redis)
    takeTryScript.define(redis)
    settleProbeScript.define(redis)
  }

  /** The state this worker saw last. */
  get state (): BreakerStateName {
    return stateAt(this.#view, Date.now())
  }

  /** Whether try `member` (its job id) may start: at once while the breaker is closed here, else as Redis decides. */
  admit (member: string): TryDecision | Promise<TryDecision> {
    if (this.#view.state === 'closed') return 'run'
    const { breaker, probe, limiter } = this.#keys
    return takeTryScript.run(this.#redis, { breaker, probe, limiter }, { now: Date.now(), member, leaseMs: this.#leaseMs, waitMs: PROBE_WAIT_MS })
      .then(({ decision, halfOpened }) => {
        if (halfOpened) this.#observer.transition('half-open', 'the open interval is over: one probe try')
        return decision
      })
  }

  /** An upstream outcome of a try that was not the probe: added to the next sync. */
  count (outcome: 'ok' | 'failed'): void {
    if (outcome === 'ok') {
      this.#ok++
      this.#trailing = 0
    } else {
      this.#failed++
      this.#trailing++
      this.#lastFailure = Date.now()
    }
  }

  /** Ends the probe try `member` with what it found; the breaker closes, opens again, or waits for another probe. */
  async settleProbe (member: string, outcome: ProbeOutcome, reason: string): Promise<void> {
    const { breaker, probe, limiter, transitions, calls } = this.#keys
    const settled = await settleProbeScript.run(this.#redis, { breaker, probe, limiter, transitions, calls },
      { now: Date.now(), member, outcome, maxOpenMs: this.#settings.maxOpenMs, jitter: jitter(), reason })
    if (settled === 'closed') this.#observer.transition('closed', reason)
    if (settled === 'opened') this.#observer.transition('open', reason)
    await this.sync()
  }

  /** Sends the outcomes counted since the last sync and reads the state (one script). */
  async sync (): Promise<void> {
    this.#syncing ??= this.#send().finally(() => { this.#syncing = undefined })
    await this.#syncing
  }

  async #send (): Promise<void> {
    const counts = { ok: this.#ok, failed: this.#failed, trailing: this.#trailing, lastFailure: this.#lastFailure }
    this.#ok = this.#failed = this.#lastFailure = 0
    // The run of failures continues across syncs in Redis: only what is new here is sent.
    this.#trailing = 0
    const s = this.#settings
    const { breaker, calls, limiter, transitions } = this.#keys
    try {
      const reply = await syncOutcomesScript.run(this.#redis, { breaker, calls, limiter, transitions }, {
        now: Date.now(),
        ...counts,
        windowMs: s.windowMs,
        minCalls: s.minCalls,
        failureRatio: s.failureRatio,
        consecutiveFailures: s.consecutiveFailures,
        openMs: s.openMs,
        maxOpenMs: s.maxOpenMs,
        jitter: jitter()
      })
      this.#view = reply.breaker
      if (reply.opened) this.#observer.transition('open', reply.breaker.reason)
      this.#observer.seen(stateAt(reply.breaker, Date.now()), reply.pausedMs)
    } catch (err) {
      // Lost with Redis: outcomes of a time the breaker cannot act on anyway.
      this.#observer.unreachable(err)
    }
  }

  start (): void {
    this.#timer ??= setInterval(() => { void this.sync() }, SYNC_MS)
    this.#timer.unref()
    void this.sync()
  }

  /** Stops syncing, after sending what was counted. */
  async close (): Promise<void> {
    clearInterval(this.#timer)
    await this.sync()
  }
}
