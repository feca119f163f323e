import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { waitFor } from './wait.js'

/** The Redis the test run uses (`npm test` sets REDIS_URL to the one it found or started). */
export const TEST_REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'

/** A key prefix no other test (or run) shares. */
export function uniquePrefix (label = 't'): string {
  return `rotest-${label}-${randomBytes(4).toString('hex')}`
}

/** Deletes every key under `prefix:` (SCAN, never KEYS), then closes the connection. */
export async function deleteKeys (prefix: string, url = TEST_REDIS_URL): Promise<number> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 })
  let deleted = 0
  try {
    await redis.connect()
    let cursor = '0'
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000)
      cursor = next
      if (keys.length > 0) deleted += await redis.del(...keys)
    } while (cursor !== '0')
  } finally {
    redis.disconnect()
  }
  return deleted
}

export function freePort (): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0))
    })
  })
}

export function hasRedisServer (): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0
}

export interface PrivateRedis {
  url: string
  port: number
  /** Stops the server (SIGTERM, or SIGKILL with `hard`), keeping its folder for a restart. */
  stop: (hard?: boolean) => Promise<void>
  /** Starts it again on the same port and folder. */
  restart: () => Promise<void>
  /** Stops it and removes its folder. */
  destroy: () => Promise<void>
  /** SIGSTOP: the server hangs with its sockets open, as a stuck or swapping Redis does. */
  pause: () => void
  /** SIGCONT after `pause`. */
  resume: () => void
}

/** A redis-server of the test's own on a free loopback port; nothing persisted unless `args` say so. */
export async function startPrivateRedis (args: string[] = []): Promise<PrivateRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'rotest-redis-'))
  const port = await freePort()
  let child: ChildProcess | undefined
  const ping = async (): Promise<boolean> => {
    const r = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null })
    r.on('error', () => {})
    try {
      await r.connect()
      return (await r.ping()) === 'PONG'
    } catch {
      return false
    } finally {
      r.disconnect()
    }
  }
  const start = async (): Promise<void> => {
    child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
      '--dir', dir, '--maxmemory-policy', 'noeviction', ...args], { stdio: 'ignore' })
    await waitFor(`redis-server on ${port}`, ping, 10_000)
  }
  const stop = async (hard = false): Promise<void> => {
    const c = child
    if (c === undefined || c.exitCode !== null || c.signalCode !== null) return
    const exited = new Promise((resolve) => c.once('exit', resolve))
    c.kill(hard ? 'SIGKILL' : 'SIGTERM')
    await exited
  }
  await start()
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    stop,
    restart: start,
    destroy: async () => {
      if (child?.exitCode === null) child.kill('SIGCONT')
      await stop(true)
      rmSync(dir, { recursive: true, force: true })
    },
    pause: () => { child?.kill('SIGSTOP') },
    resume: () => { child?.kill('SIGCONT') }
  }
}
