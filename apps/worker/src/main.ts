import closeWithGrace from 'close-with-grace'
import pino from 'pino'
import { ConfigError, LogRedactPaths } from '@request-out/contracts'
import { loadWorkerConfig } from './config.js'
import { WorkerService } from './worker-service.js'

let config
try {
  config = loadWorkerConfig(process.env)
} catch (err) {
  console.error(`worker: ${err instanceof ConfigError ? err.message : String(err)}`)
  process.exit(1)
}

const pretty = process.stdout.isTTY && process.env.LOG_PRETTY !== '0'
const log = pino({
  level: config.env.LOG_LEVEL,
  base: { service: 'worker', pid: process.pid },
  redact: { paths: [...LogRedactPaths], censor: '[redacted]' },
  ...(pretty ? { transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'hostname' } } } : {})
})

const service = new WorkerService(config, log)

// Running jobs get SHUTDOWN_TIMEOUT_MS to finish; closing the connections gets a little more. Past
// that the process exits whatever Redis does: an unreachable Redis must not keep a worker alive
// after SIGTERM (a stuck pod, a Ctrl-C that hangs). Jobs not finished go back to the queue when
// their locks lapse. A second signal exits at once.
const STOP_MARGIN_MS = 5000
closeWithGrace({
  delay: config.env.SHUTDOWN_TIMEOUT_MS + STOP_MARGIN_MS,
  onTimeout: (ms) => log.error({ timeoutMs: ms }, 'worker did not stop in time; exiting anyway (unfinished jobs return to the queue)')
}, async ({ signal, err }) => {
  if (err !== undefined) log.error({ err }, 'worker stopping after an error')
  else log.info({ signal }, 'worker stopping: no new jobs, finishing running ones')
  await service.stop()
  log.info('worker stopped')
})

try {
  await service.start()
} catch (err) {
  log.fatal({ err }, 'worker cannot start')
  process.exit(1)
}
