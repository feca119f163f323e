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

let stopping = false
const stop = (signal: string): void => {
  if (stopping) return
  stopping = true
  log.info({ signal }, 'worker stopping: no new jobs, finishing running ones')
  service.stop().then(() => {
    log.info('worker stopped')
    process.exit(0)
  }, (err: unknown) => {
    log.error({ err }, 'worker did not stop cleanly')
    process.exit(1)
  })
}
process.on('SIGTERM', () => stop('SIGTERM'))
process.on('SIGINT', () => stop('SIGINT'))

try {
  await service.start()
} catch (err) {
  log.fatal({ err }, 'worker cannot start')
  process.exit(1)
}
