import { performance } from 'node:perf_hooks'
import type { RedisClient } from './connections.js'
import { EVICTION_WARNING, PERSISTENCE_WARNING, readEvictionPolicy, readPersistence } from './server-checks.js'

/** The slice of a pino logger this needs, so the package does not depend on pino. */
export interface MonitorLog {
  warn: (obj: object, msg: string) => void
  info: (obj: object, msg: string) => void
}

export interface ConnectionMonitor {
  /** True when commands may be sent: connected, and not known to hang. */
  usable: () => boolean
  /**
   * Called by the request path when a command failed because Redis could not be used. A timeout on
   * a connection ioredis still calls ready, and that has read nothing for half the probe timeout,
   * means Redis hangs (stopped, swapping, overloaded): the connection is then treated as down until
   * a PING answers again. A timeout while replies keep arriving fails its own request only.
   */
  commandFailed: (err: unknown) => void
  /** Counts a request answered 503 during the outage (the recovery line tells how many). */
  refused: () => void
  /** True while an outage (dead or hung Redis) is under way. */
  inOutage: () => boolean
  close: () => void
}

export interface MonitorOptions {
  /** How the connection is named in log lines. */
  name: string
  /** Where it points (host:port), for the one line that says it is unreachable. */
  target?: string
  /** How long a probing PING may take during a hang before it counts as failed. */
  probeTimeoutMs?: number
  /** False: no warning about a Redis without AOF (one process of a development start says it). */
  warnPersistence?: boolean
}

const PROBE_INTERVAL_MS = 500
const TIMEOUT = /Command timed out/i

/**
 * Watches one connection and tells its story in two log lines per outage: one warning when Redis
 * stops answering (dead or hung), one line when it answers again, with how long it took, how many
 * reconnect attempts were made and how many requests were refused meanwhile. ioredis reports the
 * same error on every reconnect attempt; those are counted, not logged. Checks the eviction and
 * persistence settings once when it first connects.
 */
export function monitorConnection (client: RedisClient, log: MonitorLog, options: MonitorOptions | string): ConnectionMonitor {
  const { name, target, probeTimeoutMs = 1000, warnPersistence = true } = typeof options === 'string' ? { name: options } : options
  let outageSince: number | undefined
  let hung = false
  let attempts = 0
  let refusals = 0
  let probe: NodeJS.Timeout | undefined
  let closed = false

  const start = (reason: string): void => {
    if (outageSince !== undefined || closed) return
    outageSince = Date.now()
    attempts = 0
    refusals = 0
    log.warn({ connection: name, redis: target, reason },
      `redis unreachable${target === undefined ? '' : ` at ${target}`} (${reason}): work that needs it waits or answers 503 until it is back; ` +
      'start Redis or check REDIS_URL / REDIS_CLUSTER_NODES')
  }
  const end = (): void => {
    if (outageSince === undefined) return
    const seconds = (Date.now() - outageSince) / 1000
    log.info({ connection: name, redis: target, outageSeconds: seconds, reconnectAttempts: attempts, refusedRequests: refusals },
      `redis reachable again after ${seconds.toFixed(1)} s (${attempts} reconnect attempts, ${refusals} requests refused)`)
    outageSince = undefined
    hung = false
    if (probe !== undefined) clearInterval(probe)
    probe = undefined
  }

  // When the connection last read anything: a command timed out behind a long queue of replies
  // (a burst of large reads) is not Redis hanging while replies keep arriving.
  let lastHeard = 0
  const listen = (): void => {
    if ('stream' in client) client.stream?.on('data', () => { lastHeard = performance.now() })
  }
  if (client.status === 'ready') listen()
  client.on('ready', listen)

  client.on('error', (err: Error) => {
    attempts++
    start(err.message)
  })
  client.on('close', () => { if (!closed) start('connection closed') })
  client.on('ready', () => { if (!hung) end() })

  const probeHang = (): void => {
    if (probe !== undefined) return
    let inFlight = false
    probe = setInterval(() => {
      if (inFlight || client.status !== 'ready') return
      inFlight = true
      // Judged after the loop has read its sockets (as CommandDeadlines does): a busy process's own lag is not Redis hanging.
      const timer = new Promise<never>((_resolve, reject) => setTimeout(() => setImmediate(() => reject(new Error('timeout'))), probeTimeoutMs).unref())
      Promise.race([client.ping(), timer]).then(() => end(), () => { attempts++ }).finally(() => { inFlight = false })
    }, PROBE_INTERVAL_MS)
    probe.unref()
  }

  client.once('ready', () => {
    void readEvictionPolicy(client).then((policy) => {
      if (policy !== undefined && policy !== 'noeviction') log.warn({ policy, connection: name }, EVICTION_WARNING)
    })
    if (warnPersistence) {
      void readPersistence(client).then((persistence) => {
        if (persistence !== undefined && !persistence.aof) log.warn({ appendonly: 'no', connection: name }, PERSISTENCE_WARNING)
      })
    }
  })

  return {
    usable: () => client.status === 'ready' && !hung,
    commandFailed: (err: unknown) => {
      const message = err instanceof Error ? err.message : undefined
      const answering = performance.now() - lastHeard < probeTimeoutMs / 2
      if (message !== undefined && TIMEOUT.test(message) && client.status === 'ready' && !hung && !answering) {
        hung = true
        start('commands time out: Redis is not answering')
        probeHang()
      }
    },
    refused: () => { if (outageSince !== undefined) refusals++ },
    inOutage: () => outageSince !== undefined,
    close: () => {
      closed = true
      if (probe !== undefined) clearInterval(probe)
    }
  }
}
