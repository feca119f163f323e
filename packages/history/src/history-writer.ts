import { hostname } from 'node:os'
import type { Cluster, Redis } from 'ioredis'
import { parseTicketEvent, ticketEventStreams } from '@request-out/record-store'
import { HISTORY_GROUP } from './backlog.js'
import type { HistoryStore, StreamEvent } from './history-store.js'

export interface WriterLog {
  info: (obj: object, msg: string) => void
  warn: (obj: object, msg: string) => void
}

export interface HistoryWriterOptions {
  prefix: string
  /** Events per batch (one PostgreSQL transaction), at most. */
  batchSize: number
  /** How long an idle writer waits before looking again. */
  pollMs: number
  /** Events a writer read but did not acknowledge for this long are taken over (their writer died). */
  claimIdleMs: number
  log: WriterLog
  /** Told after each stored batch (metrics). */
  onBatch?: (events: number, seconds: number) => void
  /** Told when a batch cannot be stored (metrics). */
  onFailure?: () => void
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

type StreamReply = Array<[string, Array<[string, string[]]>]> | null

/** What one round read: the events to store, and every entry read (foreign ones too) to acknowledge after. */
interface Batch {
  events: StreamEvent[]
  entries: Array<{ group: number, id: string }>
}
const EMPTY: Batch = { events: [], entries: [] }

/**
 * Copies the ticket event streams into PostgreSQL. Every writer is a consumer of one group on
 * all streams, so writers scale out and share the work; an event is acknowledged only after the
 * transaction that stored it commits. A batch that cannot be stored (PostgreSQL away) is retried
 * until it can, and meanwhile the streams hold the backlog; a writer that dies leaves its batch
 * pending, and another takes it over after `claimIdleMs`. Storing is idempotent by event, so a
 * batch stored twice adds nothing.
 */
export class HistoryWriter {
  readonly #redis: Redis | Cluster
  readonly #store: HistoryStore
  readonly #options: HistoryWriterOptions
  readonly #streams: string[]
  readonly #consumer = `${hostname()}-${process.pid}`
  #running = false
  #loop: Promise<void> | undefined
  #lastClaim = 0
  #failing = false
  /** On a Redis Cluster the streams live in different slots: one command per stream. */
  readonly #clustered: boolean

  constructor (redis: Redis | Cluster, store: HistoryStore, options: HistoryWriterOptions) {
    this.#redis = redis
    this.#clustered = redis.isCluster
    this.#store = store
    this.#options = options
    this.#streams = ticketEventStreams(options.prefix)
  }

  get consumer (): string {
    return this.#consumer
  }

  start (): void {
    if (this.#running) return
    this.#running = true
    this.#loop = this.#run()
  }

  /**
   * Finishes the batch in hand (stored and acknowledged) and stops; waits at most `timeoutMs`
   * (Redis or PostgreSQL may not answer): a batch not acknowledged stays pending for another writer.
   */
  async stop (timeoutMs = 5000): Promise<void> {
    this.#running = false
    let timer: NodeJS.Timeout | undefined
    await Promise.race([this.#loop, new Promise((resolve) => { timer = setTimeout(resolve, timeoutMs) })])
    clearTimeout(timer)
  }

  async #run (): Promise<void> {
    let groupsReady = false
    let batch = EMPTY
    while (this.#running) {
      try {
        if (!groupsReady) {
          await this.#createGroups()
          groupsReady = true
        }
        if (batch.entries.length === 0) batch = await this.#nextBatch()
        if (batch.entries.length === 0) {
          await sleep(this.#options.pollMs)
          continue
        }
        const started = process.hrtime.bigint()
        if (batch.events.length > 0) await this.#store.writeEvents(batch.events)
        await this.#acknowledge(batch)
        this.#options.onBatch?.(batch.events.length, Number(process.hrtime.bigint() - started) / 1e9)
        if (this.#failing) this.#options.log.info({ events: batch.events.length }, 'history writer: storing again')
        this.#failing = false
        // A small batch means the writer is ahead: wait a moment, so the next transaction stores more.
        const small = batch.entries.length < this.#options.batchSize / 4
        batch = EMPTY
        if (small) await sleep(this.#options.pollMs)
      } catch (err) {
        // The batch stays in hand (and pending in Redis): retried until PostgreSQL and Redis take it.
        this.#options.onFailure?.()
        if (!this.#failing) this.#options.log.warn({ err, events: batch.events.length }, 'history writer: cannot store events; retrying every second, the streams keep them meanwhile')
        this.#failing = true
        await sleep(1000)
      }
    }
  }

  async #createGroups (): Promise<void> {
    await Promise.all(this.#streams.map(async (stream) => {
      try {
        // From the start of the stream: events written before history was switched on are stored too.
        await this.#redis.xgroup('CREATE', stream, HISTORY_GROUP, '0', 'MKSTREAM')
      } catch (err) {
        if (!String((err as Error).message).includes('BUSYGROUP')) throw err
      }
    }))
  }

  /** Events taken over from dead writers (now and then), else new ones. */
  async #nextBatch (): Promise<Batch> {
    const perStream = Math.max(1, Math.ceil(this.#options.batchSize / 16))
    if (Date.now() - this.#lastClaim >= this.#options.claimIdleMs / 2) {
      this.#lastClaim = Date.now()
      const claimed = await this.#collect(async (stream) => {
        const reply = await this.#redis.xautoclaim(stream, HISTORY_GROUP, this.#consumer, this.#options.claimIdleMs, '0-0', 'COUNT', perStream) as [string, Array<[string, string[]] | null>]
        return reply[1].filter((e): e is [string, string[]] => e !== null)
      })
      if (claimed.entries.length > 0) return claimed
    }
    if (!this.#clustered) {
      // One Redis: every stream in one command.
      const reply = await this.#redis.xreadgroup('GROUP', HISTORY_GROUP, this.#consumer, 'COUNT', perStream, 'STREAMS',
        ...this.#streams, ...this.#streams.map(() => '>')) as StreamReply
      const byStream = new Map((reply ?? []).map(([stream, entries]) => [stream, entries]))
      return await this.#collect(async (stream) => byStream.get(stream) ?? [])
    }
    return await this.#collect(async (stream) => {
      const reply = await this.#redis.xreadgroup('GROUP', HISTORY_GROUP, this.#consumer, 'COUNT', perStream, 'STREAMS', stream, '>') as StreamReply
      return reply?.[0]?.[1] ?? []
    })
  }

  /** The entries read from each stream, as one batch. */
  async #collect (read: (stream: string) => Promise<Array<[string, string[]]>>): Promise<Batch> {
    const replies = await Promise.all(this.#streams.map(read))
    const batch: Batch = { events: [], entries: [] }
    replies.forEach((entries, group) => {
      for (const [id, flat] of entries) {
        batch.entries.push({ group, id })
        // A foreign entry is acknowledged with the batch and otherwise ignored.
        const event = parseTicketEvent(id, flat)
        if (event !== undefined) batch.events.push({ ...event, group })
      }
    })
    return batch
  }

  async #acknowledge (batch: Batch): Promise<void> {
    const byGroup = new Map<number, string[]>()
    for (const e of batch.entries) byGroup.set(e.group, [...(byGroup.get(e.group) ?? []), e.id])
    await Promise.all([...byGroup].map(async ([group, ids]) => this.#redis.xack(this.#streams[group] as string, HISTORY_GROUP, ...ids)))
  }
}
