import { createParser, type EventSourceMessage } from 'eventsource-parser'
import { StreamResync, Unavailable, UnexpectedAnswer, errorFor } from './errors.js'
import type { TicketStreamEvent } from './types.js'

/** What an event stream needs of the client: where, how, and its token (`fresh` after a 401). */
export interface StreamContext {
  url: string
  fetch: typeof fetch
  token: (fresh: boolean) => Promise<string>
  /** Failed connection attempts in a row before giving up (each waits longer). */
  maxRetries: number
}

export interface StreamOptions {
  /** Resume after this event id (or, for every event, this cursor). */
  lastEventId?: string
  signal?: AbortSignal
  /** A ticket's stream: stop after its record (the server ends it there too). */
  untilRecord?: boolean
}

/** The route of a ticket's events. */
export const ticketEventsPath = (ticketId: string, follow = false): string =>
  `/v1/request-out/${encodeURIComponent(ticketId)}/events${follow ? '?follow=true' : ''}`

/** The route of every event of the caller's tickets, filtered. */
export function clientEventsPath (product?: string, types?: readonly string[]): string {
  const query = new URLSearchParams()
  if (product !== undefined) query.set('Product', product)
  if (types !== undefined) query.set('Type', types.join(','))
  return query.size > 0 ? `/v1/events?${query.toString()}` : '/v1/events'
}

const sleep = (ms: number, signal?: AbortSignal): Promise<void> => new Promise((resolve, reject) => {
  const timer = setTimeout(resolve, ms)
  signal?.addEventListener('abort', () => { clearTimeout(timer); reject(signal.reason) }, { once: true })
})

/**
 * Reads a Server-Sent Events route as an async iterator of events, resuming by itself: after a
 * dropped connection, an intake's stop or a 503 it reconnects with Last-Event-ID (the `retry:`
 * advice, then backing off), so nothing is missed or repeated. Ends when the server says nothing
 * more will come (204), after a ticket's record with `untilRecord`, or on `signal`; throws
 * StreamResync when the server cannot resume, and the API's typed error for a refusal.
 */
export async function * readEventStream (ctx: StreamContext, options: StreamOptions = {}): AsyncGenerator<TicketStreamEvent> {
  let lastId = options.lastEventId
  let retryMs = 2000
  let failures = 0
  let fresh = false
  for (;;) {
    options.signal?.throwIfAborted()
    let res: Response
    try {
      res = await ctx.fetch(ctx.url, {
        headers: {
          accept: 'text/event-stream',
          authorization: `Bearer ${await ctx.token(fresh)}`,
          ...(lastId === undefined ? {} : { 'last-event-id': lastId })
        },
        ...(options.signal === undefined ? {} : { signal: options.signal })
      })
    } catch (err) {
      options.signal?.throwIfAborted()
      if (++failures > ctx.maxRetries) throw new Unavailable(`no event stream from ${ctx.url}: ${err instanceof Error ? err.message : String(err)}`, 'UNAVAILABLE', 0, null)
      await sleep(Math.min(30_000, retryMs * failures), options.signal)
      continue
    }
    if (res.status === 204) return
    if (res.status !== 200 || res.body === null) {
      const text = await res.text()
      let body: unknown = null
      try { body = JSON.parse(text) } catch { body = text }
      const code = (body as { Code?: string } | null)?.Code
      const retryAfter = Number(res.headers.get('retry-after') ?? Number.NaN)
      if (res.status === 401 && !fresh) { fresh = true; continue }
      if ((res.status === 503 || (res.status === 429 && code === 'RATE_LIMITED')) && ++failures <= ctx.maxRetries) {
        await sleep(Number.isFinite(retryAfter) ? retryAfter * 1000 : retryMs * failures, options.signal)
        continue
      }
      if (code === undefined) throw new UnexpectedAnswer(`${ctx.url} answered HTTP ${res.status}, not an event stream`, 'UNEXPECTED_ANSWER', res.status, body)
      throw errorFor(code, res.status, (body as { Message?: string }).Message ?? `HTTP ${res.status}`, body, Number.isFinite(retryAfter) ? retryAfter : undefined)
    }
    fresh = false
    const messages: EventSourceMessage[] = []
    const parser = createParser({ onEvent: (m) => messages.push(m), onRetry: (ms) => { retryMs = ms } })
    const decoder = new TextDecoder()
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        parser.feed(decoder.decode(chunk, { stream: true }))
        for (const m of messages.splice(0)) {
          if (m.event === 'resync') {
            const data = JSON.parse(m.data) as { Message: string }
            throw new StreamResync(data.Message, 'RESYNC', 200, data)
          }
          if (m.id !== undefined) lastId = m.id
          failures = 0
          const event = JSON.parse(m.data) as TicketStreamEvent
          yield event
          if (options.untilRecord === true && event.Type === 'record') return
        }
      }
    } catch (err) {
      if (err instanceof StreamResync) throw err
      options.signal?.throwIfAborted()
      // The connection dropped: reconnect after the server's retry advice.
    }
    await sleep(retryMs, options.signal)
  }
}
