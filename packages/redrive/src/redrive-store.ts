import { randomBytes } from 'node:crypto'
import type { RedriveFilter, RedriveSample, RedriveView } from '@request-out/contracts'
import { retryPolicy } from '@request-out/product-catalog'
import { TicketField, type FingerprintedTicket } from '@request-out/record-store'
import type { RedisClient } from '@request-out/redis-connection'
import { parseTicketKey, redisKeys, ticketKey } from '@request-out/redis-keys'
import { sampleOf, selectFailed, selectFailedFromHistory, type FailedTicketSource, type SelectedPage } from './redrive-selection.js'

const SAMPLE = 10
/** How long a redrive's keys are kept after it started: its progress stays readable. */
const KEEP_SECONDS = 30 * 86_400
const PROGRESS_PAGE = 1000
/** How long the inputs a redrive selected from history are kept at most (a redrive held by an open breaker waits with them). */
const INPUTS_KEEP_SECONDS = 3 * 86_400

export interface RedriveSelection { selected: number, sample: RedriveSample[] }

/** A redrive names what it sends back: a product, a client or a start time, never everything at once. */
export function hasRedriveScope (filter: RedriveFilter): boolean {
  return filter.Product !== undefined || filter.ClientId !== undefined || filter.From !== undefined
}

export interface RedriveStoreOptions {
  prefix: string
  /** REDRIVE_MAX_AGE_DAYS: tickets accepted before are never selected. */
  maxAgeDays: number
  /** The catalog's product keys, which a filter without Product spans. */
  products: readonly string[]
  /** With history on: the selection reads it (tickets Redis forgot included), and fingerprints the inputs it kept. */
  history?: { source: FailedTicketSource, fingerprintOf: (ticket: FingerprintedTicket) => string } | undefined
}

/** Redrives as Redis holds them: selected by an intake, sent back by the workers' runners (RedriveRunner). */
export class RedriveStore {
  readonly #redis: RedisClient
  readonly #keys
  readonly #o: RedriveStoreOptions

  constructor (redis: RedisClient, options: RedriveStoreOptions) {
    this.#redis = redis
    this.#keys = redisKeys(options.prefix)
    this.#o = options
  }

  /** The selection of `filter`, page by page: from the history when it is on, from Redis otherwise. */
  async #select (filter: RedriveFilter, onPage: (page: SelectedPage) => Promise<void>): Promise<number> {
    const { prefix, maxAgeDays, history } = this.#o
    const products = this.#o.products.filter((k) => filter.Product === undefined || k === filter.Product)
    return history === undefined
      ? await selectFailed(this.#redis, prefix, products, filter, maxAgeDays, onPage)
      : await selectFailedFromHistory(history.source, history.fingerprintOf, products, filter, maxAgeDays, onPage)
  }

  /** What a redrive of `filter` would select: how many, and the first few. Writes nothing. */
  async dryRun (filter: RedriveFilter): Promise<RedriveSelection> {
    const sample: RedriveSample[] = []
    const selected = await this.#select(filter, async ({ entries }) => {
      for (const e of entries) if (sample.length < SAMPLE) sample.push(sampleOf(e))
    })
    return { selected, sample }
  }

  /**
   * Selects the tickets into a new redrive's list, not yet started: `start()` hands it to the
   * runners (after its audit entry), `discard()` forgets it. Undefined id when nothing matched.
   */
  async select (filter: RedriveFilter, by: string): Promise<RedriveSelection & { id: string | undefined }> {
    // Hex, not base64url: an id is typed and pasted as a command-line argument (`request-out redrive
    // status ID`), and one in 64 base64url ids began with '-', which the CLI read as an option.
    const id = randomBytes(12).toString('hex')
    const list = this.#keys.redriveTickets(id)
    const inputs = this.#keys.redriveInputs(id)
    const sample: RedriveSample[] = []
    const selected = await this.#select(filter, async ({ entries, kept }) => {
      for (const e of entries) if (sample.length < SAMPLE) sample.push(sampleOf(e))
      await this.#redis.rpush(list, ...entries.map((e) => JSON.stringify(e)))
      if (kept.size > 0) await this.#redis.hset(inputs, ...[...kept].flatMap(([ticket, k]) => [ticket, JSON.stringify(k)]))
    })
    if (selected === 0) return { id: undefined, selected, sample }
    await this.#redis.expire(list, KEEP_SECONDS)
    // Personal data: kept no longer than a redrive is expected to run; the runner drops each once its ticket is handled.
    await this.#redis.expire(inputs, INPUTS_KEEP_SECONDS)
    await this.#redis.hset(this.#keys.redrive(id), 'state', 'selected', 'filter', JSON.stringify(filter), 'by', by, 'createdAt', String(Date.now()), 'selected', String(selected), 'cursor', '0')
    await this.#redis.expire(this.#keys.redrive(id), KEEP_SECONDS)
    return { id, selected, sample }
  }

  /** Hands a selected redrive to the runners. */
  async start (id: string): Promise<void> {
    await this.#redis.hset(this.#keys.redrive(id), 'state', 'running')
    await this.#redis.zadd(this.#keys.redrives, Date.now(), id)
  }

  async discard (id: string): Promise<void> {
    await this.#redis.del(this.#keys.redrive(id), this.#keys.redriveTickets(id), this.#keys.redriveInputs(id))
  }

  /** An erasure of the ticket's personal data reaches the inputs running redrives hold for it too. */
  async forgetInput (clientId: string, ticketId: string): Promise<void> {
    const ticket = ticketKey(clientId, ticketId)
    for (const id of await this.#redis.zrange(this.#keys.redrives, 0, -1)) await this.#redis.hdel(this.#keys.redriveInputs(id), ticket)
  }

  /** Stops a running redrive: tickets it sent back stay queued (DELETE of a ticket cancels one); the inputs it held for the others go. */
  async stop (id: string): Promise<void> {
    await this.#redis.hset(this.#keys.redrive(id), 'state', 'stopped')
    await this.#redis.zrem(this.#keys.redrives, id)
    await this.#redis.del(this.#keys.redriveInputs(id))
  }

  /** Its progress, the outcomes of the tickets it sent back read from their hashes; undefined when unknown. */
  async progress (id: string): Promise<RedriveView | undefined> {
    const [state, selected] = await this.#redis.hmget(this.#keys.redrive(id), 'state', 'selected')
    if (state === null || state === 'selected') return undefined
    const queuedKey = this.#keys.redriveQueued(id)
    let queued = 0
    let completed = 0
    let failedAgain = 0
    for (let start = 0; ; start += PROGRESS_PAGE) {
      const page = await this.#redis.zrange(queuedKey, start, start + PROGRESS_PAGE - 1, 'WITHSCORES')
      if (page.length === 0) break
      const refs: Array<{ key: string, at: number }> = []
      for (let i = 0; i < page.length; i += 2) refs.push({ key: page[i] as string, at: Number(page[i + 1]) })
      queued += refs.length
      const outcomes = await Promise.all(refs.map(async ({ key }) => {
        const t = parseTicketKey(key)
        return t === undefined ? [null, null] : await this.#redis.hmget(this.#keys.ticket(t.clientId, t.ticketId), TicketField.code, TicketField.tryId)
      }))
      refs.forEach(({ at }, i) => {
        const [code, tryId] = outcomes[i] ?? []
        if (code === null || code === undefined) return
        // A PRODUCT_FAILED record counts as failing again only when a try after the redrive wrote it.
        if (code !== retryPolicy.exhaustedCode) completed++
        else if (Number(tryId) >= at) failedAgain++
      })
    }
    const skipped = await this.#redis.hlen(this.#keys.redriveSkipped(id))
    const total = Number(selected)
    const view = state === 'stopped'
      ? 'stopped'
      : state === 'running' ? 'running' : (completed + failedAgain === queued ? 'done' : 'waiting')
    return { RedriveId: id, State: view, Selected: total, Queued: queued, Completed: completed, FailedAgain: failedAgain, Skipped: skipped }
  }
}
