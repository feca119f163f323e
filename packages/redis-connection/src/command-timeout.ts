import { performance } from 'node:perf_hooks'

interface Command { isResolved: boolean, reject: (err: Error) => void }

/**
 * Fails a connection's commands with ioredis's "Command timed out" when they have no reply `ms`
 * after they were written, judged only after the event loop has read what its sockets hold.
 * ioredis's own commandTimeout starts when a command is queued and rejects in the timers phase,
 * which runs before the loop reads its sockets: a process busy for longer than the timeout (10,000
 * requests arriving at once) failed commands whose replies were already waiting, and commands a
 * long turn had not written yet, and took its own lag for a Redis that hangs (one false outage,
 * the whole burst answered 503). Here the judgement waits for the check phase (setImmediate),
 * after the poll for I/O; a Redis that does not answer is still told within the timeout plus one
 * turn of the loop.
 *
 * One timer a connection instead of one a command: deadlines are in the order of the writes, so
 * only the oldest unanswered command is watched; answered ones are dropped as new ones are written.
 */
export class CommandDeadlines {
  readonly #ms: number
  #pending: Array<{ command: Command, deadline: number }> = []
  #head = 0
  #timer: NodeJS.Timeout | undefined

  constructor (ms: number) {
    this.#ms = ms
  }

  /** Commands just written to the socket. */
  written (commands: Command[]): void {
    this.#dropAnswered()
    const deadline = performance.now() + this.#ms
    for (const command of commands) this.#pending.push({ command, deadline })
    this.#arm()
  }

  #dropAnswered (): void {
    const pending = this.#pending
    while (this.#head < pending.length && pending[this.#head]?.command.isResolved === true) this.#head++
    if (this.#head === pending.length) {
      this.#pending = []
      this.#head = 0
    } else if (this.#head > 1024) {
      this.#pending = pending.slice(this.#head)
      this.#head = 0
    }
  }

  #arm (): void {
    const oldest = this.#pending[this.#head]
    if (this.#timer !== undefined || oldest === undefined) return
    this.#timer = setTimeout(() => {
      setImmediate(() => {
        this.#timer = undefined
        this.#judge()
      })
    }, Math.max(0, oldest.deadline - performance.now()))
    // The socket keeps the process alive while commands are in flight; this timer need not.
    this.#timer.unref()
  }

  #judge (): void {
    const now = performance.now()
    const pending = this.#pending
    while (this.#head < pending.length) {
      const next = pending[this.#head]
      if (next === undefined || (!next.command.isResolved && next.deadline > now)) break
      if (!next.command.isResolved) next.command.reject(new Error('Command timed out'))
      this.#head++
    }
    this.#dropAnswered()
    this.#arm()
  }
}
