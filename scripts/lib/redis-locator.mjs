// Finds a Redis for `npm start` and `npm test` (README, "The two commands"): REDIS_URL if set, else one on
// 127.0.0.1:6379, else a private redis-server on a free port (no persistence), else a message
// that says how to get one.
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** Sends PING over a raw socket; resolves true on +PONG (or a NOAUTH answer: something is there). */
export function pingRedis (host, port, timeoutMs = 1000) {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port })
    const done = (ok) => { socket.destroy(); resolve(ok) }
    socket.setTimeout(timeoutMs, () => done(false))
    socket.once('error', () => done(false))
    socket.once('connect', () => socket.write('PING\r\n'))
    socket.once('data', (d) => done(/^(\+PONG|-NOAUTH)/.test(d.toString())))
  })
}

function freePort () {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })
}

function hasRedisServer () {
  const r = spawnSync('redis-server', ['--version'], { stdio: 'ignore' })
  return r.status === 0
}

/**
 * Installs Debian's redis-server where that is possible without asking: as root with apt-get (a
 * container, a CI machine). Says what it does first. Resolves true once redis-server is there.
 */
function installRedisServer (log = () => {}) {
  const root = typeof process.getuid === 'function' && process.getuid() === 0
  const apt = spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).status === 0
  if (!root || !apt) return false
  log('redis-server is not installed: installing Debian\'s package with apt-get (root, so no password is asked)')
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env })
  spawnSync('apt-get', ['install', '-y', '-qq', 'redis-server'], { stdio: 'inherit', env })
  return hasRedisServer()
}

const HOW_TO_GET_REDIS = [
  'No Redis found: REDIS_URL is not set, nothing answers on 127.0.0.1:6379 and redis-server is not installed.',
  'Get one of these, then run the command again:',
  '  - Debian/Ubuntu: sudo apt-get install -y redis-server',
  '  - macOS (Homebrew): brew install redis',
  '  - Docker: docker run -d -p 6379:6379 redis:7 --maxmemory-policy noeviction',
  '  - or point REDIS_URL at a Redis you have, e.g. REDIS_URL=redis://host:6379 npm start'
].join('\n')

/**
 * Starts a private redis-server: free port, throwaway folder, no RDB or AOF. Returns its URL and
 * a stop function. `extraArgs` lets a test ask for persistence (e.g. `--appendonly yes`).
 */
async function startPrivateRedis ({ port, extraArgs = [], log = () => {} } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'request-out-redis-'))
  const chosen = port ?? await freePort()
  const child = spawn('redis-server', [
    '--port', String(chosen), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
    '--dir', dir, '--maxmemory-policy', 'noeviction', ...extraArgs
  ], { stdio: ['ignore', 'ignore', 'inherit'] })
  for (let i = 0; i < 100; i++) {
    if (await pingRedis('127.0.0.1', chosen, 200)) break
    if (child.exitCode !== null) throw new Error(`redis-server exited with code ${child.exitCode}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  log(`started a private redis-server on 127.0.0.1:${chosen} (pid ${child.pid})`)
  let stopped = false
  const stop = async () => {
    if (stopped) return
    stopped = true
    if (child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGTERM')
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 3000))])
      if (child.exitCode === null) child.kill('SIGKILL')
    }
    rmSync(dir, { recursive: true, force: true })
  }
  return { url: `redis://127.0.0.1:${chosen}`, port: chosen, pid: child.pid, stop, child }
}

/** Resolves `{ url, source, stop }`, or throws with HOW_TO_GET_REDIS. */
export async function locateRedis ({ log = () => {} } = {}) {
  if (process.env.REDIS_URL) return { url: process.env.REDIS_URL, source: 'REDIS_URL', stop: async () => {} }
  if (await pingRedis('127.0.0.1', 6379)) {
    return { url: 'redis://127.0.0.1:6379', source: '127.0.0.1:6379', stop: async () => {} }
  }
  if (hasRedisServer() || installRedisServer(log)) {
    const r = await startPrivateRedis({ log })
    return { url: r.url, source: 'private redis-server', stop: r.stop }
  }
  const err = new Error(HOW_TO_GET_REDIS)
  err.code = 'NO_REDIS'
  throw err
}
