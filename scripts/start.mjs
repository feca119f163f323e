// `npm start`: install, build, find or start Redis, run the intake and one worker with the demo
// users and the sandbox product, print where everything is. Ctrl-C stops all it started.
import { spawn } from 'node:child_process'
import { resolve } from 'node:path'
import { installAndBuild } from './lib/workspace.mjs'
import { runOnSupportedNode } from './lib/node-runtime.mjs'

await runOnSupportedNode(import.meta.filename)

const root = resolve(import.meta.dirname, '..')
process.chdir(root)
installAndBuild()
// Imported once built: a fresh clone has no dist/ before installAndBuild().
const { ensureDatabase, locatePostgres, locateRedis, pingRedis } = await import('../packages/local-services/dist/index.js')

let redis
try {
  redis = await locateRedis((m) => console.log(`    ${m}`))
} catch (err) {
  console.error(`\n${err.message}`)
  process.exit(1)
}

// The ticket history: DATABASE_URL, else 127.0.0.1:5432, else an embedded PostgreSQL kept in .data/.
// Without one the system still runs, with history off.
let postgres = { url: undefined, source: 'none', stop: async () => {} }
let databaseUrl
try {
  postgres = await locatePostgres((m) => console.log(`    ${m}`), resolve(root, '.data', 'postgres'))
  databaseUrl = postgres.source === 'DATABASE_URL' ? postgres.url : await ensureDatabase(postgres.url, 'request_out')
} catch (err) {
  console.error(`\nNo PostgreSQL for the ticket history (${err.message}); running with history off.`)
}

const port = process.env.PORT ?? '3000'
const host = process.env.HOST ?? '127.0.0.1'
const env = { ...process.env, REDIS_URL: redis.url, PORT: port, HOST: host, ...(databaseUrl === undefined ? {} : { DATABASE_URL: databaseUrl }) }
const children = []
function run (name, script, extraEnv = {}) {
  const child = spawn(process.execPath, [script], { env: { ...env, ...extraEnv }, stdio: 'inherit' })
  child.on('exit', (code, signal) => {
    if (stopping) return
    // Ctrl-C reaches the whole process group: a child stopping cleanly is not an error.
    const clean = code === 0 || signal === 'SIGINT' || signal === 'SIGTERM'
    if (!clean) console.error(`${name} exited (${signal ?? code}); stopping everything`)
    void stop(clean ? 0 : 1)
  })
  children.push(child)
  return child
}

/** Which Redis, named once: the address, and how it was found when that says more. */
function describeRedis () {
  const address = redisAddress(redis.url)
  if (redis.source === 'REDIS_URL') return `${redis.url} (REDIS_URL)`
  if (redis.source === 'private redis-server') return `a private redis-server on ${address}, nothing kept`
  return address
}

function redisAddress (url) {
  try {
    const u = new URL(url)
    return `${u.hostname}:${u.port || '6379'}`
  } catch {
    return url
  }
}

let stopping = false
/**
 * Stops the children. Ctrl-C reaches the whole process group, so after SIGINT the children are
 * stopping already: a second signal would make them skip their graceful stop. They get SIGTERM
 * only if they are still running after `graceMs` (a SIGINT sent to this process alone).
 */
async function stop (code = 0, graceMs = 0) {
  if (stopping) return
  stopping = true
  await Promise.all(children.map((c) => new Promise((resolve) => {
    if (c.exitCode !== null || c.signalCode !== null) return resolve()
    c.once('exit', resolve)
    setTimeout(() => { if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM') }, graceMs).unref()
  })))
  await redis.stop()
  await postgres.stop()
  process.exit(code)
}
// Longer than the worker's own deadline under npm start (5 s for jobs + 5 s to close).
process.on('SIGINT', () => { void stop(0, 12_000) })
process.on('SIGTERM', () => { void stop(0) })

// The AOF warning is said once, by the intake; not at all for the throwaway Redis started here.
const quiet = { REDIS_PERSISTENCE_WARNING: 'off' }
run('intake', 'apps/intake/dist/main.js', redis.source === 'private redis-server' ? quiet : {})
// A development Ctrl-C should not wait 30 s for running jobs.
run('worker', 'apps/worker/dist/main.js', { ...quiet, SHUTDOWN_TIMEOUT_MS: process.env.SHUTDOWN_TIMEOUT_MS ?? '5000' })
if (databaseUrl !== undefined) run('history writer', 'apps/worker/dist/main.js', { ...quiet, WORKER_ROLE: 'history', SHUTDOWN_TIMEOUT_MS: '5000' })

// Wait until the intake is ready, then say where everything is; while it is not, say why, once.
const base = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`
const startedAt = Date.now()
let toldWaiting = false
for (;;) {
  let checks
  try {
    const r = await fetch(`${base}/health/ready`)
    if (r.ok) break
    checks = (await r.json()).Checks
  } catch { /* not listening yet */ }
  if (!toldWaiting && Date.now() - startedAt > 5000) {
    toldWaiting = true
    const address = redisAddress(redis.url)
    const [redisHost, redisPort] = address.split(':')
    const redisAnswers = checks?.redis === true || await pingRedis(redisHost, Number(redisPort))
    const what = redisAnswers ? 'the intake is not ready yet' : `Redis at ${address} does not answer`
    console.error(`\nRequest Out is NOT running yet: ${what}.\n` +
      '  Start that Redis, or point REDIS_URL at one that runs (unset it to let npm start find or start one).\n' +
      '  Waiting for it; the apps log one line when it answers. Ctrl-C stops everything.\n')
  }
  await new Promise((resolve) => setTimeout(resolve, 500))
}
console.log(`
Request Out is running (Redis: ${describeRedis()}; history: ${databaseUrl === undefined ? 'off' : `PostgreSQL, ${postgres.source}`}).
  API        ${base}/v1/request-out
  Docs       ${base}/docs
  Dashboard  ${base}/admin/queues   (products: ${base}/admin/products; webhooks: ${base}/admin/webhooks)
  Tickets    ${base}/admin/tickets   (history search; audit: ${base}/admin/audit)
  Metrics    ${base}/metrics
  Demo users demo-client / demo-client-secret   (role client)
             demo-admin  / demo-admin-secret    (role admin)
Ctrl-C stops everything.
`)
