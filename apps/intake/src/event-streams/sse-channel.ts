import type { FastifyReply } from 'fastify'

/** A client that has not read this much of its stream is dropped: an intake never holds an unbounded buffer for it. */
const MAX_BUFFERED_BYTES = 256 * 1024
/** What EventSource waits before reconnecting after the stream ends (the `retry:` advice). */
const RETRY_MS = 2000

export type ChannelEnd = 'done' | 'client' | 'slow' | 'revoked' | 'shutdown'

/**
 * One open event stream: frames go to the socket in order, never awaited by the fan-out. While the
 * socket is backed up they queue, up to MAX_BUFFERED_BYTES; past that the client is dropped. The
 * response's headers and heartbeats are @fastify/sse's (reply.sse).
 */
export class SseChannel {
  readonly #reply: FastifyReply
  #queued: string[] = []
  #queuedBytes = 0
  #draining = false
  #ended: ChannelEnd | undefined
  readonly #onEnd: Array<(why: ChannelEnd) => void> = []

  constructor (reply: FastifyReply) {
    this.#reply = reply
    reply.sse.keepAlive()
    reply.sse.onClose(() => this.#finish('client'))
  }

  get open (): boolean {
    return this.#ended === undefined
  }

  /** Called once when the stream ends, with why. */
  onEnd (listener: (why: ChannelEnd) => void): void {
    this.#onEnd.push(listener)
  }

  /** Sends the response head (200, text/event-stream) and the reconnect advice. */
  start (): void {
    // Set before the first frame: onSend hooks do not run for a stream.
    void this.#reply.header('cache-control', 'no-store')
    void this.#reply.header('x-request-id', this.#reply.request.id)
    this.write(`retry: ${RETRY_MS}\n\n`)
  }

  write (text: string): void {
    if (this.#ended !== undefined) return
    const raw = this.#reply.raw
    if (this.#draining) {
      this.#queued.push(text)
      this.#queuedBytes += Buffer.byteLength(text)
      if (this.#queuedBytes + raw.writableLength > MAX_BUFFERED_BYTES) this.end('slow')
      return
    }
    this.#reply.sse.sendHeaders()
    if (!raw.write(text)) {
      this.#draining = true
      raw.once('drain', () => this.#drain())
    }
  }

  /** Ends the stream: after a `retry:` hint when the intake stops, so clients come back a moment later elsewhere. */
  end (why: ChannelEnd): void {
    if (this.#ended !== undefined) return
    if (why === 'shutdown' && !this.#draining) this.#reply.raw.write(`retry: ${RETRY_MS}\n\n`)
    this.#finish(why)
    this.#reply.sse.close()
    // A dropped client's socket may never drain: it goes now, not after its buffer.
    if (why === 'slow') this.#reply.raw.destroy()
  }

  #drain (): void {
    this.#draining = false
    const text = this.#queued.join('')
    this.#queued = []
    this.#queuedBytes = 0
    if (text !== '' && this.#ended === undefined) this.write(text)
  }

  #finish (why: ChannelEnd): void {
    if (this.#ended !== undefined) return
    this.#ended = why
    this.#queued = []
    for (const listener of this.#onEnd) listener(why)
  }
}
