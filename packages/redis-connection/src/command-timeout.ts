type Command = { isResolved: boolean, reject: (err: Error) => void, promise: Promise<unknown> }

/**
 * Fails `command` with ioredis's "Command timed out" when it has no reply `ms` after it was sent,
 * judged only after the event loop has read what its sockets hold. ioredis's own commandTimeout
 * rejects in the timers phase, which runs before the loop reads its sockets: a process that was
 * busy for longer than the timeout (10,000 requests arriving at once) failed every command whose
 * reply was already waiting, and took its own lag for a Redis that hangs (one false outage, every
 * request of the burst answered 503). The check waits for the check phase (setImmediate), after
 * the poll for I/O, so a reply that has arrived counts; a Redis that does not answer is still told
 * within the timeout plus one turn of the loop.
 */
export function timeOutUnanswered (command: Command, ms: number): void {
  const timer = setTimeout(() => {
    setImmediate(() => {
      if (!command.isResolved) command.reject(new Error('Command timed out'))
    })
  }, ms)
  const settled = (): void => clearTimeout(timer)
  command.promise.then(settled, settled)
}
