import type { RedisClient } from './connections.js'
import { EVICTION_WARNING, readEvictionPolicy } from './eviction-policy.js'

/** The slice of a pino logger this needs, so the package does not depend on pino. */
export interface MonitorLog {
  warn: (obj: object, msg: string) => void
  info: (msg: string) => void
}

/**
 * Logs a connection's errors — each distinct one once, as ioredis repeats the same error on every
 * reconnect attempt — and its recovery, and checks the eviction policy once it first connects.
 */
export function monitorConnection (client: RedisClient, log: MonitorLog, name: string): void {
  let lastError = ''
  client.on('error', (err: Error) => {
    if (err.message === lastError) return
    lastError = err.message
    log.warn({ err, connection: name }, 'redis connection error')
  })
  client.on('ready', () => {
    if (lastError !== '') log.info(`redis connection ${name} ready again`)
    lastError = ''
  })
  client.once('ready', () => {
    void readEvictionPolicy(client).then((policy) => {
      if (policy !== undefined && policy !== 'noeviction') log.warn({ policy, connection: name }, EVICTION_WARNING)
    })
  })
}
