import type { StreamEvent } from '@request-out/record-store'

/**
 * Holds the live events a stream's subscription hands over while the stream catches up from the
 * backlog, then passes them on: subscribe first, read the backlog, go live, and nothing falls
 * between the two.
 */
export class Relay {
  #held: StreamEvent[] | undefined = []
  #send: ((event: StreamEvent) => void) | undefined

  readonly push = (event: StreamEvent): void => {
    if (this.#held !== undefined) this.#held.push(event)
    else this.#send?.(event)
  }

  /** From now on events go to `send`; answers those held meanwhile (the caller drops what the backlog had). */
  goLive (send: (event: StreamEvent) => void): StreamEvent[] {
    const held = this.#held ?? []
    this.#held = undefined
    this.#send = send
    return held
  }
}
