import closeWithGrace from 'close-with-grace'

/** The slice of a pino logger this needs. */
interface StopLog {
  info: (obj: object, msg: string) => void
  error: (obj: object, msg: string) => void
}

/**
 * The one way both apps stop: on SIGTERM, SIGINT or an uncaught error, `close` runs once; the
 * process exits 0 when it finishes, 1 after an error or once `deadlineMs` passes whatever `close`
 * is waiting on (an unreachable Redis must not keep a process alive). A second signal exits at once.
 */
export function stopGracefully (name: string, deadlineMs: number, log: StopLog, close: () => Promise<void>): void {
  closeWithGrace({
    delay: deadlineMs,
    onTimeout: (ms) => log.error({ timeoutMs: ms }, `${name} did not stop in time; exiting anyway`)
  }, async ({ signal, err }) => {
    if (err !== undefined) log.error({ err }, `${name} stopping after an error`)
    else log.info({ signal }, `${name} stopping`)
    await close()
    log.info({}, `${name} stopped`)
  })
}
