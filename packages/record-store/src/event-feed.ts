import type { Cluster, Redis } from 'ioredis'
import { allTicketEvents, redisKeys } from '@request-out/redis-keys'
import type { StreamEvent } from './event-consumer.js'
import { fieldOf, parseTicketEvent } from './ticket-events.js'

type StreamReply = Array<[string, Array<[string, string[]]>]> | null

export interface EventFeedOptions {
  prefix: string
  /** A connection of the feed's own (on one Redis it blocks in XREAD); made when the first subscriber comes, closed after the last. */
  connect: () => Redis | Cluster
  /** Told when a read fails (Redis away); the feed reads on from where it was once Redis answers. */
  onError: (err: unknown) => void
  /** Entries per read and stream, at most. */
  batchSize?: number
  /** On a cluster (no blocking read over every slot): how long an idle round waits. */
  pollMs?: number
}

/** One subscriber's delivery function: handed each new event of its client, in stream order per group. */
export type Deliver = (event: StreamEvent) => void

export interface FeedSubscription {
  /**
   * With `positions`: where the feed had read each group's stream when the subscription began (it
   * is handed every event after these); empty otherwise, so a stream that needs none keeps none.
   */
  positions: string[]
  close: () => void
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Every new ticket event, read once per process and handed to the subscribers of its client: the
 * one reader an intake's event streams share. It reads only while someone is subscribed, so an
 * intake nobody watches costs Redis nothing. On one Redis a blocking XREAD over all 64 streams
 * wakes on the first new entry; on a cluster each stream is read in its own slot, polled.
 */
export class TicketEventFeed {
  readonly #options: Required<EventFeedOptions>
  readonly #streams: string[]
  /** Subscribers to every event of a client, and to one ticket's (keyed client + NUL + ticket): an event reaches its own in one lookup each, however many streams its client holds. */
  readonly #byClient = new Map<string, Set<Deliver>>()
  readonly #byTicket = new Map<string, Set<Deliver>>()
  #subscribers = 0
  #positions: string[] = []
  #running: { stop: boolean, connection: Redis | Cluster, loop: Promise<void> } | undefined
  #starting: Promise<void> | undefined

  constructor (options: EventFeedOptions) {
    this.#options = { batchSize: 1000, pollMs: 50, ...options }
    this.#streams = allTicketEvents(redisKeys(options.prefix))
  }

  get subscribers (): number {
    return this.#subscribers
  }

  /**
   * Subscribes to a client's new events, or (`ticketId`) to one of its tickets'; resolves once the
   * feed reads (with where it starts, when asked).
   */
  async subscribe (clientId: string, deliver: Deliver, options: { positions?: boolean, ticketId?: string } = {}): Promise<FeedSubscription> {
    this.#subscribers++
    try {
      if (this.#running === undefined) {
        this.#starting ??= this.#start().finally(() => { this.#starting = undefined })
        await this.#starting
      }
    } catch (err) {
      this.#release()
      throw err
    }
    const [index, key] = options.ticketId === undefined ? [this.#byClient, clientId] : [this.#byTicket, `${clientId}\u0000${options.ticketId}`]
    let set = index.get(key)
    if (set === undefined) index.set(key, set = new Set())
    set.add(deliver)
    let open = true
    return {
      // Taken in the same tick as the registration: every event handed over later is newer.
      positions: options.positions === true ? [...this.#positions] : [],
      close: () => {
        if (!open) return
        open = false
        set.delete(deliver)
        if (set.size === 0) index.delete(key)
        this.#release()
      }
    }
  }

  /** Stops reading (tests, shutdown); subscribers keep their subscriptions but get nothing more. */
  async close (): Promise<void> {
    await this.#stop()
  }

  #release (): void {
    this.#subscribers--
    if (this.#subscribers === 0) void this.#stop()
  }

  async #start (): Promise<void> {
    const connection = this.#options.connect()
    try {
      // Where each stream ends now ('$' would skip what lands between two reads of a quiet stream):
      // the last id it ever gave, so a stream trimmed empty does not look as if it lost events since.
      this.#positions = await Promise.all(this.#streams.map(async (s) => await lastGeneratedId(connection, s)))
    } catch (err) {
      connection.disconnect()
      throw err
    }
    const state = { stop: false, connection, loop: Promise.resolve() }
    state.loop = this.#read(state)
    this.#running = state
  }

  async #stop (): Promise<void> {
    const state = this.#running
    if (state === undefined) return
    this.#running = undefined
    state.stop = true
    // A blocked XREAD is cut by closing its connection.
    state.connection.disconnect()
    await state.loop.catch(() => {})
  }

  async #read (state: { stop: boolean, connection: Redis | Cluster }): Promise<void> {
    const { batchSize, pollMs } = this.#options
    const clustered = state.connection.isCluster
    while (!state.stop) {
      try {
        let replies: StreamReply[]
        if (!clustered) {
          replies = [await state.connection.xread('COUNT', batchSize, 'BLOCK', 1000, 'STREAMS', ...this.#streams, ...this.#positions) as StreamReply]
        } else {
          replies = await Promise.all(this.#streams.map(async (s, i) =>
            await state.connection.xread('COUNT', batchSize, 'STREAMS', s, this.#positions[i] ?? '0-0') as StreamReply))
        }
        if (state.stop) return
        const read = this.#deliver(replies)
        if (clustered && read === 0) await sleep(pollMs)
      } catch (err) {
        if (state.stop) return
        this.#options.onError(err)
        await sleep(500)
      }
    }
  }

  /** Hands each entry to its client's subscribers; answers how many entries were read. */
  #deliver (replies: StreamReply[]): number {
    let read = 0
    for (const reply of replies) {
      for (const [stream, entries] of reply ?? []) {
        const group = this.#streams.indexOf(stream)
        for (const [id, flat] of entries) {
          read++
          this.#positions[group] = id
          const clientId = fieldOf(flat, 'clientId') as string | undefined
          if (clientId === undefined) continue
          const all = this.#byClient.get(clientId)
          const one = this.#byTicket.size === 0 ? undefined : this.#byTicket.get(`${clientId}\u0000${(fieldOf(flat, 'ticketId') as string | undefined) ?? ''}`)
          if (all === undefined && one === undefined) continue
          const parsed = parseTicketEvent(id, flat)
          if (parsed === undefined) continue
          const event = { ...parsed, group }
          for (const deliver of all ?? []) deliver(event)
          for (const deliver of one ?? []) deliver(event)
        }
      }
    }
    return read
  }
}

async function lastGeneratedId (redis: Redis | Cluster, stream: string): Promise<string> {
  try {
    return (fieldOf(await redis.xinfo('STREAM', stream) as unknown[], 'last-generated-id') as string | undefined) ?? '0-0'
  } catch {
    return '0-0' // no such stream yet
  }
}
