import { Cluster, Redis, type ClusterNode, type RedisOptions } from 'ioredis'
import { CoalescingRedis } from './coalesced-writes.js'

export type RedisClient = Redis | Cluster

export interface RedisTarget {
  /** `redis://` or `rediss://` URL of a single Redis. */
  url: string
  /** Comma-separated `host:port` or URLs of Redis Cluster nodes; when set, `url` is ignored. */
  clusterNodes?: string | undefined
  /**
   * Producer connections only: a command not answered within this fails (the caller answers 503).
   * Without it a hung Redis (stopped, not dead: the socket stays open) holds every request.
   */
  commandTimeoutMs?: number | undefined
}

/** `host:port` (or the cluster's first node) for log lines and messages; never the password. */
export function describeTarget (target: RedisTarget): string {
  const first = target.clusterNodes !== undefined && target.clusterNodes !== '' ? target.clusterNodes.split(',')[0] ?? '' : target.url
  try {
    const u = new URL(/^rediss?:\/\//.test(first) ? first : `redis://${first}`)
    return `${u.hostname}:${u.port || '6379'}`
  } catch {
    return '(unparsable address)'
  }
}

/**
 * - `producer`: fails fast. No offline queue, one retry per command, so an HTTP request never
 *   waits on a Redis that is gone; the caller answers 503 instead.
 * - `worker`: waits. BullMQ's blocking commands need `maxRetriesPerRequest: null`, and a worker
 *   should ride out a Redis restart rather than crash.
 * - `subscriber`: pub/sub, also waits and resubscribes after a reconnect.
 */
export type ConnectionRole = 'producer' | 'worker' | 'subscriber'

// Reconnect forever, backing off to at most 2 s between tries: a Redis that comes back is used again
// without a restart of our process.
const retryStrategy = (times: number): number => Math.min(50 * 2 ** Math.min(times, 6), 2000)

function roleOptions (role: ConnectionRole, target: RedisTarget): RedisOptions {
  if (role === 'producer') {
    // No auto-pipelining: it once saved the intake a socket write per command, but measured again
    // (Node 24, three commands a ticket) the intake accepted 19-46 % more without it, at half the
    // p99: each batch waited a turn of the loop to leave and was held until its last reply. The
    // write it saved is saved by CoalescingRedis instead (createRedis), without either cost.
    return {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      connectTimeout: 2000,
      ...(target.commandTimeoutMs === undefined ? {} : { commandTimeout: target.commandTimeoutMs })
    }
  }
  return { enableOfflineQueue: true, maxRetriesPerRequest: null, connectTimeout: 5000 }
}

function parseNode (spec: string): { node: ClusterNode, auth: RedisOptions } {
  const withScheme = /^rediss?:\/\//.test(spec) ? spec : `redis://${spec}`
  const u = new URL(withScheme)
  const auth: RedisOptions = {}
  if (u.username !== '') auth.username = decodeURIComponent(u.username)
  if (u.password !== '') auth.password = decodeURIComponent(u.password)
  if (u.protocol === 'rediss:') auth.tls = {}
  return { node: { host: u.hostname, port: Number(u.port || 6379) }, auth }
}

export function createRedis (target: RedisTarget, role: ConnectionRole, connectionName: string): RedisClient {
  const options: RedisOptions = { ...roleOptions(role, target), retryStrategy, connectionName }
  if (target.clusterNodes !== undefined && target.clusterNodes !== '') {
    const parsed = target.clusterNodes.split(',').map((s) => parseNode(s.trim()))
    const auth = parsed[0]?.auth ?? {}
    return new Cluster(parsed.map((p) => p.node), {
      redisOptions: { ...options, ...auth },
      enableOfflineQueue: options.enableOfflineQueue ?? true,
      clusterRetryStrategy: retryStrategy,
      // TLS clusters present certificates for hostnames, not the IPs CLUSTER SLOTS reports.
      ...(auth.tls === undefined ? {} : { dnsLookup: (address, callback) => callback(null, address) })
    })
  }
  // Commands of a turn leave in one write: a write was a fifth of the intake's CPU, and coalescing
  // took a sixth off the workers' CPU a ticket recorded and delivered. A subscriber sends next to nothing;
  // a cluster's node connections are ioredis's own, and write as before.
  return role === 'subscriber' ? new Redis(target.url, options) : new CoalescingRedis(target.url, options)
}

/** True when commands would be sent now (connected and past the handshake). */
export function isRedisReady (client: RedisClient): boolean {
  return client.status === 'ready'
}

/** Resolves once the client is ready, or rejects after `timeoutMs`. */
export async function waitForRedis (client: RedisClient, timeoutMs: number): Promise<void> {
  if (isRedisReady(client)) return
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      client.off('ready', onReady)
      reject(new Error(`Redis not ready after ${timeoutMs} ms`))
    }, timeoutMs)
    const onReady = (): void => {
      clearTimeout(timer)
      resolve()
    }
    client.once('ready', onReady)
  })
}

/** Closes a client without throwing, whatever state it is in. */
export async function closeRedis (client: RedisClient): Promise<void> {
  try {
    if (client.status === 'end') return
    if (client.status === 'ready') await client.quit()
    else client.disconnect()
  } catch {
    client.disconnect()
  }
}

const REDIS_DOWN = /Stream isn't writeable|Connection is closed|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENOTFOUND|EPIPE|max retries per request|Command timed out|CLUSTERDOWN|TRYAGAIN|LOADING|MASTERDOWN|Failed to refresh slots cache|None of startup nodes is available/i

/**
 * True for errors that mean "Redis cannot be used right now" (gone, hung, restarting) rather than a
 * bug: the connection monitor tells those in one line per outage, so callers count them, not log them.
 */
export function isRedisUnavailable (err: unknown): boolean {
  if (!(err instanceof Error)) return false
  return err.name === 'MaxRetriesPerRequestError' || REDIS_DOWN.test(err.message)
}
