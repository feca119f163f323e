/** One delivery waiting in this worker for a place: woken with its turn, or told it may wait no longer. */
interface Waiter {
  wake: (turn: boolean) => void
}

/** This worker's deliveries of one endpoint waiting for a place, and the places it gave back lately. */
interface Endpoint {
  waiting: Waiter[]
  poll: NodeJS.Timeout | undefined
  /** Places given back in the window that began at `since`, and in the window before it. */
  given: number
  givenBefore: number
  since: number
}

export interface SlotTurnsOptions {
  /** The longest a delivery waits here; also the window over which places given back are counted. */
  waitMs: number
  /** How often the first waiter tries again, for places given back by other workers. */
  pollMs: number
}

/**
 * Deliveries of this worker that found their endpoint's in-flight places taken (WEBHOOK_MAX_IN_FLIGHT,
 * held over the fleet in Redis) and wait here for one, first come first served, instead of going
 * back to the queue at once: a busy worker holds a place for the round trips around its POST too, so
 * a healthy endpoint's cap is reached with little open at the receiver, and a delivery sent back to
 * the queue costs Redis a job's whole cycle again. A place this worker gives back wakes the first
 * waiter; the first also tries every `pollMs`; one that gets a place lets the next try (places come
 * back in bunches).
 *
 * Only as many wait as this worker saw places of the endpoint given back in the last window: an
 * endpoint whose places come back (a healthy receiver at its cap) is waited for, one that holds them
 * (a stalling receiver) is not, and its deliveries go back to the queue without taking the worker's
 * concurrency from other endpoints' deliveries.
 */
export class SlotTurns {
  readonly #endpoints = new Map<string, Endpoint>()
  readonly #options: SlotTurnsOptions

  constructor (options: SlotTurnsOptions) {
    this.#options = options
  }

  /** A delivery of `key` gave its place back: the first waiter tries it. */
  given (key: string): void {
    const endpoint = this.#endpoint(key)
    endpoint.given++
    this.next(key)
  }

  /** Lets the first waiter of `key` try for a place. */
  next (key: string): void {
    const endpoint = this.#endpoints.get(key)
    if (endpoint === undefined) return
    endpoint.waiting.shift()?.wake(true)
    this.#stopPolling(endpoint)
  }

  /**
   * Waits for this delivery's turn to try for a place of `key`: true when it has one, false when it
   * may not wait (as many wait as places came back lately, or the wait is over). `again` puts a
   * delivery whose try failed back at the front.
   */
  async turn (key: string, startedAt: number, again = false): Promise<boolean> {
    const endpoint = this.#endpoint(key)
    const left = startedAt + this.#options.waitMs - Date.now()
    if (left <= 0 || (!again && endpoint.waiting.length >= Math.max(endpoint.given, endpoint.givenBefore))) return false
    return await new Promise<boolean>((resolve) => {
      const waiter: Waiter = {
        wake: (turn) => {
          clearTimeout(timer)
          resolve(turn)
        }
      }
      const timer = setTimeout(() => {
        const at = endpoint.waiting.indexOf(waiter)
        if (at >= 0) endpoint.waiting.splice(at, 1)
        this.#stopPolling(endpoint)
        waiter.wake(false)
      }, left)
      if (again) endpoint.waiting.unshift(waiter)
      else endpoint.waiting.push(waiter)
      endpoint.poll ??= setInterval(() => { this.next(key) }, this.#options.pollMs)
    })
  }

  /** The endpoint's entry, its windows moved on to now. Entries stay: one per endpoint this worker delivers to. */
  #endpoint (key: string): Endpoint {
    const now = Date.now()
    let endpoint = this.#endpoints.get(key)
    if (endpoint === undefined) {
      endpoint = { waiting: [], poll: undefined, given: 0, givenBefore: 0, since: now }
      this.#endpoints.set(key, endpoint)
    }
    const elapsed = now - endpoint.since
    if (elapsed >= this.#options.waitMs) {
      endpoint.givenBefore = elapsed >= 2 * this.#options.waitMs ? 0 : endpoint.given
      endpoint.given = 0
      endpoint.since = now
    }
    return endpoint
  }

  #stopPolling (endpoint: Endpoint): void {
    if (endpoint.waiting.length > 0 || endpoint.poll === undefined) return
    clearInterval(endpoint.poll)
    endpoint.poll = undefined
  }
}
