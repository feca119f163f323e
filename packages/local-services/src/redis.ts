import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { hasCommand, installDebianPackages } from './debian.js'
import { freePort } from './ports.js'

/** Sends PING over a raw socket: true on +PONG, or on NOAUTH (something is there). */
export function pingRedis (host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port })
    const done = (ok: boolean): void => { socket.destroy(); resolve(ok) }
    socket.setTimeout(timeoutMs, () => done(false))
    socket.once('error', () => done(false))
    socket.once('connect', () => socket.write('PING\r\n'))
    socket.once('data', (d) => done(/^(\+PONG|-NOAUTH)/.test(d.toString())))
  })
}

export function hasRedisServer (): boolean {
  return hasCommand('redis-server')
}

export interface PrivateRedis {
  url: string
  port: number
  pid: () => number | undefined
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

/**
 * A redis-server of its own on a free loopback port, in a throwaway folder, nothing persisted
 * unless `args` say so (e.g. `--appendonly yes`).
 */
export async function startPrivateRedis (args: string[] = []): Promise<PrivateRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'request-out-redis-'))
  const port = await freePort()
  let child: ChildProcess | undefined
  const start = async (): Promise<void> => {
    const c = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
      '--dir', dir, '--maxmemory-policy', 'noeviction', ...args], { stdio: ['ignore', 'ignore', 'inherit'] })
    child = c
    const deadline = Date.now() + 10_000
    while (!await pingRedis('127.0.0.1', port, 200)) {
      if (c.exitCode !== null) throw new Error(`redis-server exited with code ${c.exitCode}`)
      if (Date.now() > deadline) throw new Error(`redis-server on ${port} did not answer within 10 s`)
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
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
    pid: () => child?.pid,
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

const HOW_TO_GET_REDIS = [
  'No Redis found: REDIS_URL is not set, nothing answers on 127.0.0.1:6379 and redis-server is not installed.',
  'Get one of these, then run the command again:',
  '  - Debian/Ubuntu: sudo apt-get install -y redis-server',
  '  - macOS (Homebrew): brew install redis',
  '  - Docker: docker run -d -p 6379:6379 redis:7 --maxmemory-policy noeviction',
  '  - or point REDIS_URL at a Redis you have, e.g. REDIS_URL=redis://host:6379 npm start'
].join('\n')

export interface LocatedService {
  url: string
  /** Where it came from, for the start-up message. */
  source: string
  stop: () => Promise<void>
}

/**
 * The Redis for `npm start` and `npm test`: REDIS_URL if set, else one on 127.0.0.1:6379, else a
 * private redis-server (installed with apt-get where that needs no password); else throws an
 * error that says how to get one.
 */
export async function locateRedis (log: (message: string) => void = () => {}): Promise<LocatedService> {
  if (process.env.REDIS_URL) return { url: process.env.REDIS_URL, source: 'REDIS_URL', stop: async () => {} }
  if (await pingRedis('127.0.0.1', 6379)) {
    return { url: 'redis://127.0.0.1:6379', source: '127.0.0.1:6379', stop: async () => {} }
  }
  if (hasRedisServer() || (installDebianPackages(['redis-server'], log) && hasRedisServer())) {
    const redis = await startPrivateRedis()
    log(`started a private redis-server on 127.0.0.1:${redis.port} (pid ${redis.pid() ?? '?'})`)
    return { url: redis.url, source: 'private redis-server', stop: redis.destroy }
  }
  throw new Error(HOW_TO_GET_REDIS)
}
