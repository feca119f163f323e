import { ConfigError } from '@request-out/contracts'
import { stopGracefully } from '@request-out/runtime'
import { buildApp } from './app.js'
import { loadIntakeConfig } from './config.js'

/** Loads the configuration, builds the app and listens; `flush` runs last at shutdown (pending spans). */
export async function serve (flush: () => Promise<void>): Promise<void> {
  let config
  try {
    config = loadIntakeConfig(process.env)
  } catch (err) {
    // A bad variable stops the process with a message that names it.
    console.error(`intake: ${err instanceof ConfigError ? err.message : String(err)}`)
    process.exit(1)
  }

  const app = await buildApp(config)

  // Fastify stops accepting, answers in-flight requests (long polls are released with their current
  // state), then closes queues and Redis through the onClose hooks.
  stopGracefully('intake', config.env.SHUTDOWN_TIMEOUT_MS, app.log, async () => {
    await app.close()
    await flush()
  })

  try {
    await app.listen({ port: config.env.PORT, host: config.env.HOST })
  } catch (err) {
    app.log.fatal({ err }, 'intake cannot listen')
    process.exit(1)
  }
}
