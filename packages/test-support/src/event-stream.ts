import { createParser } from 'eventsource-parser'

/** One Server-Sent Event as a spec-compliant parser reads it. */
interface StreamedEvent {
  id: string | undefined
  event: string | undefined
  data: string
}

export interface OpenedEventStream {
  status: number
  headers: Headers
  /** The body of an answer that is not a stream (its status is not 200). */
  text: string
  /** The next event, or undefined once the stream ended; throws after `timeoutMs` without one. */
  next: (timeoutMs?: number) => Promise<StreamedEvent | undefined>
  /** Every event until the stream ends (throws after `timeoutMs` in all). */
  rest: (timeoutMs?: number) => Promise<StreamedEvent[]>
  /** Comment lines seen (heartbeats) and retry advice. */
  comments: string[]
  retries: number[]
  /** Drops the connection, as a client that goes away. */
  close: () => void
  /** Resolves when the server ended the stream (or close() was called). */
  ended: Promise<void>
}

/** Opens an event stream over real HTTP (fetch) and parses it with eventsource-parser. */
export async function openEventStream (url: string, headers: Record<string, string> = {}): Promise<OpenedEventStream> {
  const controller = new AbortController()
  const res = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: controller.signal })
  const queue: StreamedEvent[] = []
  const waiters: Array<() => void> = []
  const comments: string[] = []
  const retries: number[] = []
  const state = { done: false }
  const wake = (): void => { for (const w of waiters.splice(0)) w() }
  const parser = createParser({
    onEvent: (e) => { queue.push({ id: e.id, event: e.event, data: e.data }); wake() },
    onComment: (c) => comments.push(c),
    onRetry: (r) => retries.push(r)
  })
  let text = ''
  const ended = (async () => {
    if (res.status !== 200 || res.body === null) {
      text = await res.text()
      return
    }
    const decoder = new TextDecoder()
    try {
      for await (const chunk of res.body) parser.feed(decoder.decode(chunk as Uint8Array, { stream: true }))
    } catch { /* closed by us, or the connection was cut */ }
  })().finally(() => { state.done = true; wake() })
  if (res.status !== 200) await ended
  const next = async (timeoutMs = 10_000): Promise<StreamedEvent | undefined> => {
    const deadline = Date.now() + timeoutMs
    while (queue.length === 0 && !state.done) {
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`no event within ${timeoutMs} ms from ${url}`)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left)
        waiters.push(() => { clearTimeout(timer); resolve() })
      })
    }
    return queue.shift()
  }
  return {
    status: res.status,
    headers: res.headers,
    get text () { return text },
    next,
    rest: async (timeoutMs = 10_000) => {
      const deadline = Date.now() + timeoutMs
      const all: StreamedEvent[] = []
      for (let e = await next(timeoutMs); e !== undefined; e = await next(Math.max(1, deadline - Date.now()))) all.push(e)
      return all
    },
    comments,
    retries,
    close: () => controller.abort(),
    ended
  }
}
