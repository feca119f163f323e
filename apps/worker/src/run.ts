import pino from 'pino'
import { ConfigError } from '@request-out/contracts'
import { loggerOptions, stopGracefully } from '@request-out/runtime'
import { loadWorkerConfig } from './config.js'
import { HistoryService } from './history-service.js'
import { WorkerService } from './worker-service.js'

/** Loads the configuration and runs the role it names; `flush` runs last at shutdown (pending spans). */
export async function run (flush: () => Promise<void>): Promise<void> {
  let config
  try {
    config = loadWorkerConfig(process.env)
  } catch (err) {
    console.error(`worker: ${err instanceof ConfigError ? err.message : String(err)}`)
    process.exit(1)
  }

  const log = pino(loggerOptions(config.env.LOG_LEVEL, 'worker'))

  let service: WorkerService | HistoryService
  try {
    service = config.env.WORKER_ROLE === 'history' ? new HistoryService(config, log) : new WorkerService(config, log)
  } catch (err) {
    console.error(`worker: ${err instanceof ConfigError ? err.message : String(err)}`)
    process.exit(1)
  }

  const STOP_MARGIN_MS = 5000

  // Running jobs get SHUTDOWN_TIMEOUT_MS to finish; closing the connections gets a little more. Past
  // that the process exits whatever Redis does: an unreachable Redis must not keep a worker alive
  // after SIGTERM (a stuck pod, a Ctrl-C that hangs). Jobs not finished go back to the queue when
  // their locks lapse. A second signal exits at once.
  stopGracefully('worker', config.env.SHUTDOWN_TIMEOUT_MS + STOP_MARGIN_MS, log, async () => {
    await service.stop()
    await flush()
  })

  try {
    await service.start()
  } catch (err) {
    log.fatal({ err }, 'worker cannot start')
    process.exit(1)
  }
}
