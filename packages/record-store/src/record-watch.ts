import type { Redis } from 'ioredis'
import { allTicketEvents, redisKeys, ticketKey } from '@request-out/redis-keys'
import { TicketEventType } from './ticket-events.js'
import { compareStreamIds } from './event-id.js'

/**
 * Calls `onRecord` with each ticket's key as its record lands, from now on, in the order the
 * records were stored: the `record` events of every ticket group's stream. For tools that watch
 * every ticket (benchmarks, soak runs, tests), since records are announced only to the intakes
 * that wait on them. Takes a connection of its own (it blocks); one Redis, not a cluster.
 */
export async function watchRecords (redis: Redis, prefix: string, onRecord: (key: string) => void): Promise<{ stop: () => Promise<void> }> {
  const streams = allTicketEvents(redisKeys(prefix))
  // Where each stream ends now: '$' would skip what lands between two reads of a quiet stream.
  const ends = await Promise.all(streams.map(async (s) => (await redis.xrevrange(s, '+', '-', 'COUNT', 1))[0]?.[0] ?? '0-0'))
  const state = { running: true }
  const loop = (async () => {
    while (state.running) {
      let reply: Array<[string, Array<[string, string[]]>]> | null
      try {
        reply = await redis.xread('COUNT', 5000, 'BLOCK', 200, 'STREAMS', ...streams, ...ends) as typeof reply
      } catch {
        // Redis restarting (a soak run stops it on purpose): read on from where we were.
        await new Promise((resolve) => setTimeout(resolve, 200))
        continue
      }
      if (reply === null) continue
      const landed: Array<{ id: string, key: string }> = []
      for (const [stream, entries] of reply) {
        const index = streams.indexOf(stream)
        for (const [id, flat] of entries) {
          ends[index] = id
          const fields = new Map<string, string>()
          for (let i = 0; i + 1 < flat.length; i += 2) fields.set(flat[i] as string, flat[i + 1] as string)
          if (fields.get('type') === TicketEventType.RECORD) landed.push({ id, key: ticketKey(fields.get('clientId') ?? '', fields.get('ticketId') ?? '') })
        }
      }
      // One read returns stream by stream: by entry id (time, then sequence) is the order stored.
      landed.sort((a, b) => compareStreamIds(a.id, b.id))
      for (const { key } of landed) onRecord(key)
    }
  })()
  return {
    stop: async () => {
      state.running = false
      await loop.catch(() => {})
    }
  }
}
