import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import type { TokenClaims } from '@request-out/contracts'
import { TicketEventFeed } from '@request-out/record-store'
import { createRedis } from '@request-out/redis-connection'
import { HttpProblem } from '../http-problem.js'
import { StreamLeases } from '../event-streams/stream-leases.js'
import type { SseChannel } from '../event-streams/sse-channel.js'

declare module 'fastify' {
  interface FastifyInstance {
    eventStreams: ReturnType<typeof createEventStreams>
  }
}

/** What opened a stream: checked again every second, so a revoked token or user loses its streams. */
interface StreamHolder {
  claims: TokenClaims
  tokenId: string
}

/** One admitted stream's place: within SSE_MAX_STREAMS here and the client's SSE_MAX_STREAMS_PER_CLIENT everywhere. */
interface StreamSlot {
  release: () => void
}

type StreamRoute = 'ticket' | 'client'

const SWEEP_MS = 1000
/** Past SSE_MAX_STREAMS: come back a little later, most likely to another intake. */
const FULL_RETRY_AFTER_SECONDS = '5'

/**
 * The intake's event streams (SSE): the one feed they share, their limits, who holds them, and
 * their end when a token is revoked or the intake stops.
 */
function createEventStreams (app: FastifyInstance) {
  const { env } = app.config
  const { metrics } = app
  let feedFailing = false
  const feed = new TicketEventFeed({
    prefix: env.QUEUE_PREFIX,
    // A connection of its own: on one Redis the feed blocks in XREAD.
    connect: () => createRedis(app.config.redis, 'worker', 'request-out:intake:event-feed'),
    onError: (err) => {
      if (!feedFailing) app.log.warn({ err }, 'event streams: cannot read the ticket events; reading on once Redis answers')
      feedFailing = true
    }
  })
  const leases = new StreamLeases(app.redis.producer, env.QUEUE_PREFIX, env.SSE_MAX_STREAMS_PER_CLIENT, (err) => app.log.debug({ err }, 'event stream leases not renewed'))
  const open = new Map<SseChannel, StreamHolder>()
  let admitted = 0

  const sweep = setInterval(() => {
    for (const [channel, holder] of open) {
      try {
        app.auth.principalFor(holder.claims, holder.tokenId)
      } catch (err) {
        if (err instanceof HttpProblem && err.code === 'UNAUTHORIZED') channel.end('revoked')
      }
    }
  }, SWEEP_MS)
  sweep.unref()

  return {
    feed,

    /** A place for one more stream of `clientId`, or 503 (this intake is full) / 429 (the client holds every slot). */
    async admit (clientId: string): Promise<StreamSlot> {
      if (admitted >= env.SSE_MAX_STREAMS) {
        metrics.sseDropped.inc({ reason: 'intake-limit' })
        throw new HttpProblem('UNAVAILABLE', 'This intake holds all the event streams it may (SSE_MAX_STREAMS); retry: another intake may take it', { 'retry-after': FULL_RETRY_AFTER_SECONDS })
      }
      admitted++
      let member: string | undefined
      try {
        member = await leases.take(clientId)
      } catch (err) {
        admitted--
        throw err
      }
      if (member === undefined) {
        admitted--
        metrics.sseDropped.inc({ reason: 'client-limit' })
        throw new HttpProblem('RATE_LIMITED', `A client holds at most ${env.SSE_MAX_STREAMS_PER_CLIENT} event streams at once (over every intake); close one first`, { 'retry-after': FULL_RETRY_AFTER_SECONDS })
      }
      let released = false
      return {
        release: () => {
          if (released) return
          released = true
          admitted--
          leases.release(member)
        }
      }
    },

    /** Holds an open stream until it ends: counted, checked for revocation, ended when the intake stops. */
    hold (channel: SseChannel, slot: StreamSlot, route: StreamRoute, holder: StreamHolder): void {
      open.set(channel, holder)
      metrics.sseStreams.inc({ route })
      channel.onEnd((why) => {
        open.delete(channel)
        metrics.sseStreams.dec({ route })
        slot.release()
        if (why === 'slow' || why === 'revoked') metrics.sseDropped.inc({ reason: why })
      })
    },

    /** Streams open now. */
    get size (): number {
      return open.size
    },

    /** Ends every stream (after a retry: hint) and stops reading. */
    async close (): Promise<void> {
      clearInterval(sweep)
      for (const channel of [...open.keys()]) channel.end('shutdown')
      leases.close()
      await feed.close()
    }
  }
}

async function eventStreamsPlugin (app: FastifyInstance): Promise<void> {
  const streams = createEventStreams(app)
  app.decorate('eventStreams', streams)
  // Before the server waits for open requests: every stream ends now, after a retry: hint, so a
  // stop does not wait for them, and their clients come back to another intake.
  app.addHook('preClose', async () => { await streams.close() })
}

export default fp(eventStreamsPlugin, { name: 'event-streams', dependencies: ['config', 'redis', 'metrics', 'auth'], fastify: '5.x' })
