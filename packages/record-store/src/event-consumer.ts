import { hostname } from 'node:os'
import type { Cluster, Redis } from 'ioredis'
import { TicketEventType, parseTicketEvent, type TicketEvent } from './ticket-events.js'
import { TicketField } from './ticket-fields.js'
import { allTicketEvents, redisKeys } from '@request-out/redis-keys'

/** A ticket event as a consumer hands it over: with the group whose stream it came from. */
export interface StreamEvent extends TicketEvent {
  group: number
}

interface ConsumerLog {
  info: (obj: object, msg: string) => void
  warn: (obj: object, msg: string) => void
}

export interface TicketEventConsumerOptions {
  prefix: string
  /** The consumer group on every stream: one per kind of consumer (history, webhooks). */
  group: string
  /** For log lines, e.g. "history writer". */
  name: string
  /** Handles one batch; resolving means every event of it is done for good (then acknowledged). */
  handle: (events: StreamEvent[]) => Promise<void>
  /** Hand `record` events over with their record (attachRecords). */
  withRecords?: boolean
  /** Where a group made now starts: `0` takes every event still in the streams, `$` only new ones. */
  startAt: '0' | '$'
  /** Events per batch, at most. */
  batchSize: number
  /** How long an idle consumer waits before looking again. */
  pollMs: number
  /** Events a consumer read but did not acknowledge for this long are taken over (it died). */
  claimIdleMs: number
  log: ConsumerLog
  /** Told after each handled batch (metrics). */
  onBatch?: (events: number, seconds: number) => void
  /** Told when a batch cannot be handled (metrics). */
  onFailure?: () => void
  /** Told when the consumer groups were gone and have been made again (metrics). */
  onGroupsLost?: () => void
}

/**
 * Gives each `record` event its record (`fields.record`), read from the ticket's hash: the events
 * carry none. Left without one when the hash holds another outcome by now (that one has its own
 * event) or the ticket has expired. Events stored before records left the stream keep theirs.
 */
export async function attachRecords (redis: Redis | Cluster, prefix: string, events: TicketEvent[]): Promise<void> {
  const wanted = events.filter((e) => e.type === TicketEventType.RECORD && e.fields.record === undefined)
  const keys = redisKeys(prefix)
  await Promise.all(wanted.map(async (e) => {
    const [rec, code] = await redis.hmget(keys.ticket(e.clientId, e.ticketId), TicketField.record, TicketField.code)
    if (typeof rec === 'string' && code === e.fields.code) e.fields.record = rec
  }))
}

/** Redis answers this when a stream's consumer group is gone: Redis lost its data (a restart without persistence, a failover to an empty replica, a restore). */
const isNoGroup = (err: unknown): boolean => String((err as Error | undefined)?.message).includes('NOGROUP')

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

type StreamReply = Array<[string, Array<[string, string[]]>]> | null

/** What one round read: the events to handle, and every entry read (foreign ones too) to acknowledge after. */
interface Batch {
  events: StreamEvent[]
  entries: Array<{ group: number, id: string }>
}
const EMPTY: Batch = { events: [], entries: [] }

/**
 * Reads every ticket event stream as one consumer of a consumer group, so consumers of a kind
 * scale out and share the work; an event is acknowledged only after its batch was handled. A
 * batch that cannot be handled (its database away) is retried until it can, and meanwhile the
 * streams hold the backlog; a consumer that dies leaves its batch pending, and another takes it
 * over after `claimIdleMs`. Handlers must be idempotent by event: a batch may be handled twice.
 */
export class TicketEventConsumer {
  readonly #redis: Redis | Cluster
  readonly #options: TicketEventConsumerOptions
  readonly #streams: string[]
  readonly #consumer = `${hostname()}-${process.pid}`
  #running = false
  #loop: Promise<void> | undefined
  #lastClaim = 0
  #failing = false
  /** On a Redis Cluster the streams live in different slots: one command per stream. */
  readonly #clustered: boolean

  constructor (redis: Redis | Cluster, options: TicketEventConsumerOptions) {
    this.#redis = redis
    this.#clustered = redis.isCluster
    this.#options = options
    this.#streams = allTicketEvents(redisKeys(options.prefix))
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
   * Finishes the batch in hand (handled and acknowledged) and stops; waits at most `timeoutMs`
   * (Redis or the handler's database may not answer): a batch not acknowledged stays pending for another consumer.
   */
  async stop (timeoutMs = 5000): Promise<void> {
    this.#running = false
    let timer: NodeJS.Timeout | undefined
    await Promise.race([this.#loop, new Promise((resolve) => { timer = setTimeout(resolve, timeoutMs) })])
    clearTimeout(timer)
  }

  async #run (): Promise<void> {
    // Where the groups are to be made from; undefined once they are there.
    let createFrom: '0' | '$' | undefined = this.#options.startAt
    let batch = EMPTY
    while (this.#running) {
      try {
        if (createFrom !== undefined) {
          await this.#createGroups(createFrom)
          createFrom = undefined
        }
        if (batch.entries.length === 0) batch = await this.#nextBatch()
        if (batch.entries.length === 0) {
          await sleep(this.#options.pollMs)
          continue
        }
        const started = process.hrtime.bigint()
        if (this.#options.withRecords === true) await attachRecords(this.#redis, this.#options.prefix, batch.events)
        if (batch.events.length > 0) await this.#options.handle(batch.events)
        await this.#acknowledge(batch)
        this.#options.onBatch?.(batch.events.length, Number(process.hrtime.bigint() - started) / 1e9)
        if (this.#failing) this.#options.log.info({ events: batch.events.length }, `${this.#options.name}: handling events again`)
        this.#failing = false
        // A small batch means the consumer is ahead: wait a moment, so the next batch holds more.
        const small = batch.entries.length < this.#options.batchSize / 4
        batch = EMPTY
        if (small) await sleep(this.#options.pollMs)
      } catch (err) {
        if (isNoGroup(err)) {
          // Every stream starts over: what is in them now was written since the loss, so the
          // groups are made again from their start whatever `startAt` says, and the batch in hand
          // (its pending entries are gone with them) is dropped.
          this.#options.log.warn({ err, group: this.#options.group },
            `${this.#options.name}: the consumer groups are gone (Redis lost its data?); making them again and reading every event the streams hold`)
          this.#options.onGroupsLost?.()
          createFrom = '0'
          batch = EMPTY
          continue
        }
        // The batch stays in hand (and pending in Redis): retried until PostgreSQL and Redis take it.
        this.#options.onFailure?.()
        if (!this.#failing) this.#options.log.warn({ err, events: batch.events.length }, `${this.#options.name}: cannot handle events; retrying every second, the streams keep them meanwhile`)
        this.#failing = true
        await sleep(1000)
      }
    }
  }

  async #createGroups (startAt: '0' | '$'): Promise<void> {
    await Promise.all(this.#streams.map(async (stream) => {
      try {
        await this.#redis.xgroup('CREATE', stream, this.#options.group, startAt, 'MKSTREAM')
      } catch (err) {
        if (!String((err as Error).message).includes('BUSYGROUP')) throw err
      }
    }))
  }

  /** Events taken over from dead consumers (now and then), else new ones. */
  async #nextBatch (): Promise<Batch> {
    const perStream = Math.max(1, Math.ceil(this.#options.batchSize / 16))
    if (Date.now() - this.#lastClaim >= this.#options.claimIdleMs / 2) {
      this.#lastClaim = Date.now()
      const claimed = await this.#collect(async (stream) => {
        const reply = await this.#redis.xautoclaim(stream, this.#options.group, this.#consumer, this.#options.claimIdleMs, '0-0', 'COUNT', perStream) as [string, Array<[string, string[]] | null>]
        return reply[1].filter((e): e is [string, string[]] => e !== null)
      })
      if (claimed.entries.length > 0) return claimed
    }
    if (!this.#clustered) {
      // One Redis: every stream in one command.
      const reply = await this.#redis.xreadgroup('GROUP', this.#options.group, this.#consumer, 'COUNT', perStream, 'STREAMS',
        ...this.#streams, ...this.#streams.map(() => '>')) as StreamReply
      const byStream = new Map((reply ?? []).map(([stream, entries]) => [stream, entries]))
      return await this.#collect(async (stream) => byStream.get(stream) ?? [])
    }
    return await this.#collect(async (stream) => {
      const reply = await this.#redis.xreadgroup('GROUP', this.#options.group, this.#consumer, 'COUNT', perStream, 'STREAMS', stream, '>') as StreamReply
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
    await Promise.all([...byGroup].map(async ([group, ids]) => this.#redis.xack(this.#streams[group] as string, this.#options.group, ...ids)))
  }
}
