import type { FastifyInstance } from 'fastify'
import { compareStreamIds, readStreamAfter, type StreamEvent } from '@request-out/record-store'
import { allTicketEvents, redisKeys } from '@request-out/redis-keys'
import { validationProblem } from '../http-problem.js'
import { decodeCursor, encodeCursor } from './cursor.js'
import { frame, isClientEvent, resyncFrame, streamEventData } from './event-frame.js'
import { Relay } from './relay.js'
import type { SseChannel } from './sse-channel.js'

export interface ClientStreamRequest {
  owner: string
  /** Only this product's tickets. */
  product: string | undefined
  /** Only these event types. */
  types: ReadonlySet<string> | undefined
  /** The cursor of the last event seen (Last-Event-ID). */
  lastEventId: string | undefined
}

/**
 * `GET /v1/events`: every event of the caller's tickets from now on (or after Last-Event-ID: the
 * cursor of positions in every group's stream), filtered by product and type. Each frame's `id:`
 * is the cursor after it; each event's own id is in `data.Id`. Past what the streams keep, one
 * `resync` and the end. Throws a 400 for a cursor no intake wrote.
 */
export async function clientStream (app: FastifyInstance, request: ClientStreamRequest): Promise<(channel: SseChannel, counted: () => void) => void> {
  const resumeFrom = request.lastEventId === undefined ? undefined : decodeCursor(request.lastEventId)
  if (request.lastEventId !== undefined && resumeFrom === undefined) {
    throw validationProblem([{ Field: 'Last-Event-ID', Message: 'not a cursor of this stream' }])
  }
  const wanted = (e: StreamEvent): boolean => isClientEvent(e) && e.clientId === request.owner &&
    (request.types === undefined || request.types.has(e.type)) &&
    (request.product === undefined || e.fields.product === request.product)
  const relay = new Relay()
  const subscription = await app.eventStreams.feed.subscribe(request.owner, relay.push, { positions: true })
  try {
    const positions = resumeFrom ?? subscription.positions
    let backlog: StreamEvent[] = []
    let resync = false
    if (resumeFrom !== undefined) {
      const streams = allTicketEvents(redisKeys(app.config.env.QUEUE_PREFIX))
      const reads = await Promise.all(streams.map(async (stream, group) => await readStreamAfter(app.redis.producer, stream, group, positions[group] ?? '0-0', wanted)))
      resync = reads.some((r) => !r.complete)
      // Each group's events are in order; across groups, by entry id is about when they happened.
      backlog = reads.flatMap((r) => r.events).sort((x, y) => compareStreamIds(x.id, y.id))
    }
    return (channel, counted) => {
      channel.onEnd(() => subscription.close())
      if (resync) {
        channel.write(resyncFrame('This stream resumes only within EVENT_STREAM_RETENTION_SECONDS: read your tickets with GET, then open a new stream'))
        return channel.end('done')
      }
      const send = (e: StreamEvent): void => {
        if (!wanted(e) || compareStreamIds(e.id, positions[e.group] ?? '0-0') <= 0) return
        positions[e.group] = e.id
        const data = streamEventData(e, e.fields.product ?? '')
        channel.write(frame(encodeCursor(positions), data.Type, data))
        counted()
      }
      for (const e of backlog) send(e)
      for (const e of relay.goLive(send)) send(e)
    }
  } catch (err) {
    subscription.close()
    throw err
  }
}
