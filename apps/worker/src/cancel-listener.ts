import type { Logger } from 'pino'
import type { Cluster, Redis } from 'ioredis'
import { redisKeys } from '@request-out/redis-keys'

/** What a try's signal is aborted with when its ticket is cancelled. */
export const CANCELLED = new Error('the ticket was cancelled')

/** How long a cancellation heard is remembered for a job that starts after it (took the job before the intake could remove it). */
const REMEMBER_MS = 5 * 60_000

/**
 * Hears cancellations (every worker process subscribes) and aborts the try of the cancelled ticket
 * where it runs. BullMQ's own cancel reaches only the process holding the job; this one reaches
 * whichever does. Cancellations heard are remembered a while, for a job this process takes just after.
 */
export class CancelListener {
  readonly #subscriber: Redis | Cluster
  readonly #channel: string
  readonly #running = new Map<string, AbortController>()
  readonly #heard = new Map<string, number>()
  readonly #log: Logger

  constructor (subscriber: Redis | Cluster, prefix: string, log: Logger) {
    this.#subscriber = subscriber
    this.#channel = redisKeys(prefix).cancels
    this.#log = log
    subscriber.on('message', (channel: string, key: string) => {
      if (channel !== this.#channel) return
      const now = Date.now()
      this.#heard.set(key, now)
      for (const [k, at] of this.#heard) if (now - at > REMEMBER_MS) this.#heard.delete(k); else break
      const controller = this.#running.get(key)
      if (controller !== undefined) {
        this.#log.info({ jobId: key }, 'cancellation heard: stopping the running try')
        controller.abort(CANCELLED)
      }
    })
  }

  async start (): Promise<void> {
    await this.#subscriber.subscribe(this.#channel)
  }

  /**
   * Ties a try's controller to its ticket until the returned function is called. Aborts it at
   * once when the ticket's cancellation was heard already.
   */
  register (key: string, controller: AbortController): () => void {
    this.#running.set(key, controller)
    if (this.#heard.has(key)) controller.abort(CANCELLED)
    return () => { if (this.#running.get(key) === controller) this.#running.delete(key) }
  }
}
