import type { FastifyInstance } from 'fastify'
import { TicketEventType, compareStreamIds, parseEventId, readStreamAfter, type FeedSubscription, type StreamEvent } from '@request-out/record-store'
import { redisKeys, ticketGroup } from '@request-out/redis-keys'
import { acceptanceOf, frame, isClientEvent, resyncFrame, streamEventData } from './event-frame.js'
import { Relay } from './relay.js'
import type { SseChannel } from './sse-channel.js'

/**
 * Reading a fresh ticket's stream starts this much before its acceptance: its `accepted` entry's id
 * is Redis' time, its acceptance time the intake's. Should the clocks differ by more, the read
 * misses the `accepted` entry and is made again from the stream's start.
 */
const CLOCK_SLACK_MS = 1000

export interface TicketStreamRequest {
  owner: string
  ticketId: string
  /** Stay open after the record (a redrive may bring another). */
  follow: boolean
  lastEventId: string | undefined
}

/** A ticket's stream, read up to now and subscribed: `run` sends it; `empty` when nothing more will come (204). */
export type TicketStream =
  | { kind: 'empty' }
  | { kind: 'not-found' }
  | { kind: 'stream', run: (channel: SseChannel, counted: () => void) => void }

interface Backlog { product: string, acceptedAt: number, events: StreamEvent[], resync: boolean, final: boolean }

/**
 * `GET /v1/request-out/{TicketId}/events`: the ticket's events so far (after Last-Event-ID), from
 * its group's stream, or from the history once the stream was trimmed past them; then new ones as
 * they happen; ends after the record unless `follow`. `not-found` for a ticket neither Redis nor
 * the history knows; throws UNAVAILABLE when the history is needed and away.
 */
export async function ticketStream (app: FastifyInstance, request: TicketStreamRequest): Promise<TicketStream> {
  const { owner, ticketId } = request
  const relay = new Relay()
  let subscription: FeedSubscription | undefined
  try {
    const state = await app.recordStore.eventsState(owner, ticketId)
    if (state !== undefined || request.follow) subscription = await app.eventStreams.feed.subscribe(owner, relay.push, { ticketId })
    const backlog = state === undefined ? await fromHistory(app, owner, ticketId) : await fromStreams(app, request, state)
    if (backlog === undefined) {
      subscription?.close()
      return { kind: 'not-found' }
    }
    const { events } = backlog
    // Final when its newest outcome in the backlog is a record: a redrive's `redriven` after a
    // PRODUCT_FAILED record reopened it, and a stream opened since goes on to its new record.
    const settled = events.findLast((e) => e.type === TicketEventType.RECORD || e.type === TicketEventType.REDRIVEN)?.type === TicketEventType.RECORD
    if (!backlog.resync && events.length === 0 && backlog.final && !request.follow) {
      subscription?.close()
      return { kind: 'empty' }
    }
    const sub = subscription
    const { product, acceptedAt, resync, final } = backlog
    return {
      kind: 'stream',
      run: (channel, counted) => {
        channel.onEnd(() => sub?.close())
        if (resync) {
          channel.write(resyncFrame('The events of this ticket are past what the event streams keep: read it with GET', ticketId))
          return channel.end('done')
        }
        // The newest event sent: the live ones the backlog already had are not sent again.
        let last = '0-0'
        const mine = (e: StreamEvent): boolean => e.ticketId === ticketId && isClientEvent(e) && (acceptanceOf(e) ?? acceptedAt) === acceptedAt
        /** Sends the event unless it is not this ticket's or was sent already; says whether it did. */
        const send = (e: StreamEvent): boolean => {
          if (!mine(e) || compareStreamIds(e.id, last) <= 0) return false
          last = e.id
          const data = streamEventData(e, e.fields.product === undefined || e.fields.product === '' ? product : e.fields.product)
          channel.write(frame(data.Id, data.Type, data))
          counted()
          return true
        }
        const sentBacklog = events.length
        // Sent whole (a record in it may have been followed by a redrive), then not kept for the
        // life of the stream.
        for (const e of events.splice(0)) send(e)
        if ((settled || (final && sentBacklog === 0)) && !request.follow) return channel.end('done')
        if (sub === undefined) return channel.end('done')
        const live = (e: StreamEvent): void => {
          if (send(e) && e.type === TicketEventType.RECORD && !request.follow) channel.end('done')
        }
        for (const e of relay.goLive(live)) live(e)
      }
    }
  } catch (err) {
    subscription?.close()
    throw err
  }
}

/** A ticket Redis holds: its group's stream after Last-Event-ID (or its acceptance), with the history filling a trimmed gap. */
async function fromStreams (app: FastifyInstance, request: TicketStreamRequest, state: { product: string, acceptedAt: number, code: string | undefined }): Promise<Backlog> {
  const { owner, ticketId } = request
  const group = ticketGroup(owner, ticketId)
  const resumed = request.lastEventId === undefined ? undefined : parseEventId(request.lastEventId)
  const after = resumed !== undefined && resumed.group === group ? resumed.streamId : `${Math.max(0, state.acceptedAt - CLOCK_SLACK_MS)}-0`
  const mine = (e: StreamEvent): boolean => e.clientId === owner && e.ticketId === ticketId && isClientEvent(e) && (acceptanceOf(e) ?? state.acceptedAt) === state.acceptedAt
  const stream = redisKeys(app.config.env.QUEUE_PREFIX).ticketEvents(group)
  let read = await readStreamAfter(app.redis.producer, stream, group, after, mine)
  if (resumed === undefined && read.complete && !read.events.some((e) => e.type === TicketEventType.ACCEPTED)) {
    read = await readStreamAfter(app.redis.producer, stream, group, '0-0', mine)
  }
  const final = state.code !== undefined
  if (read.complete) return { product: state.product, acceptedAt: state.acceptedAt, events: read.events, resync: false, final }
  // Trimmed past `after`: the history holds every entry the streams let go (the trimmer keeps what
  // its writers have not stored), and the stream whatever came after its newest.
  if (app.history.store === undefined) return { product: state.product, acceptedAt: state.acceptedAt, events: [], resync: true, final }
  const stored = await app.history.read(async (history) => await history.ticketEvents(owner, ticketId))
  const older = (stored?.acceptedAt === state.acceptedAt ? stored.events : []).filter((e) => compareStreamIds(e.id, after) > 0)
  const from = older.at(-1)?.id ?? after
  const newer = (await readStreamAfter(app.redis.producer, stream, group, from, mine)).events
  return { product: state.product, acceptedAt: state.acceptedAt, events: [...older, ...newer], resync: false, final }
}

/** A ticket Redis forgot (past RECORD_TTL_SECONDS): its events from the history; undefined when it has none. */
async function fromHistory (app: FastifyInstance, owner: string, ticketId: string): Promise<Backlog | undefined> {
  if (app.history.store === undefined) return undefined
  const stored = await app.history.read(async (history) => await history.ticketEvents(owner, ticketId))
  if (stored === undefined) return undefined
  return { product: stored.product, acceptedAt: stored.acceptedAt, events: stored.events, resync: false, final: stored.events.some((e) => e.type === TicketEventType.RECORD) }
}
