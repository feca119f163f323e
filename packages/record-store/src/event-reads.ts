import type { Cluster, Redis } from 'ioredis'
import { compareStreamIds } from './event-id.js'
import type { StreamEvent } from './event-consumer.js'
import { fieldOf, parseTicketEvent } from './ticket-events.js'

/** Entries per XRANGE page: a catch-up over a busy stream reads it in bounded steps. */
const PAGE = 1000

/**
 * True when the stream may no longer hold every entry after `after`: the trimmer removed one newer
 * than it (Redis 7's max-deleted-entry-id; before 7, the first entry being newer tells). A stream
 * that does not exist lost nothing.
 */
async function trimmedAfter (redis: Redis | Cluster, stream: string, after: string): Promise<boolean> {
  let info: unknown[]
  try {
    info = await redis.xinfo('STREAM', stream) as unknown[]
  } catch {
    return false
  }
  const maxDeleted = fieldOf(info, 'max-deleted-entry-id')
  if (typeof maxDeleted === 'string') return compareStreamIds(maxDeleted, after) > 0
  const first = (fieldOf(info, 'first-entry') as unknown[] | null | undefined)?.[0]
  return typeof first === 'string' && compareStreamIds(first, after) > 0 && after !== '0-0'
}

export interface StreamReadAfter {
  /** The events after the position that `keep` kept, in stream order. */
  events: StreamEvent[]
  /** The last entry read (kept or not), or the position itself when there was none. */
  last: string
  /** False when entries after the position were trimmed: the events may have a gap. */
  complete: boolean
}

/**
 * Reads one group's stream after a position (exclusive), page by page, keeping the events `keep`
 * accepts: the catch-up of an event stream before it goes live.
 */
export async function readStreamAfter (
  redis: Redis | Cluster, stream: string, group: number, after: string, keep: (event: StreamEvent) => boolean
): Promise<StreamReadAfter> {
  const complete = !await trimmedAfter(redis, stream, after)
  const events: StreamEvent[] = []
  let last = after
  for (;;) {
    const page = await redis.xrange(stream, `(${last}`, '+', 'COUNT', PAGE)
    for (const [id, flat] of page) {
      last = id
      const parsed = parseTicketEvent(id, flat)
      if (parsed === undefined) continue
      const event = { ...parsed, group }
      if (keep(event)) events.push(event)
    }
    if (page.length < PAGE) break
  }
  return { events, last, complete }
}
