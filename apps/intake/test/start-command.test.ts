import t, { type Test } from 'tap'
import { spawn } from 'node:child_process'
import { WORKSPACE_ROOT, createTestDatabase, freePort, startPrivateRedis, waitFor } from '@request-out/test-support'

/**
 * `npm start` (scripts/start.mjs) on REDIS_URL, with a database of the test's own (so it does not
 * make its `request_out` one on the shared server), in its own process group as a terminal gives
 * it: Ctrl-C (SIGINT to the group) reaches the script and its children.
 */
async function npmStart (t: Test, redisUrl: string): Promise<{ output: () => string, exited: Promise<number | string>, interrupt: () => void }> {
  const port = await freePort()
  const db = await createTestDatabase()
  t.teardown(db.drop)
  const child = spawn(process.execPath, ['scripts/start.mjs'], {
    cwd: WORKSPACE_ROOT,
    detached: true,
    env: { ...process.env, REDIS_URL: redisUrl, DATABASE_URL: db.url, PORT: String(port), LOG_PRETTY: '0' },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let output = ''
  child.stdout.on('data', (d: Buffer) => { output += d.toString() })
  child.stderr.on('data', (d: Buffer) => { output += d.toString() })
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)))
  t.teardown(() => { try { process.kill(-(child.pid ?? 0), 'SIGKILL') } catch { /* gone already */ } })
  return { output: () => output, exited, interrupt: () => { process.kill(-(child.pid ?? 0), 'SIGINT') } }
}

t.test('npm start with a dead REDIS_URL says so, waits, and stops on Ctrl-C', async (t) => {
  const deadRedis = await freePort()
  const start = await npmStart(t, `redis://127.0.0.1:${deadRedis}`)
  const { exited } = start
  await waitFor('npm start to say it is waiting', () => start.output().includes('NOT running yet'), 120_000, 200)
  t.match(start.output(), new RegExp(`Redis at 127\\.0\\.0\\.1:${deadRedis} does not answer`), 'it names the Redis it cannot reach')
  t.notMatch(start.output(), /Request Out is running/, 'it does not claim to be running')
  const unreachableLines = (): string[] => start.output().split('\n').filter((l) => l.includes('redis unreachable'))
  // The intake, the worker and the history writer.
  await waitFor('the three apps to report the outage', () => unreachableLines().length >= 3, 30_000, 100)

  // The apps retried Redis all along (every 50 ms to 2 s) until here; each said so once.
  const whileWaiting = start.output()
  start.interrupt()
  const code = await Promise.race([exited, new Promise((resolve) => setTimeout(() => resolve('still running after 30 s'), 30_000))])
  t.equal(code, 0, 'Ctrl-C ends it, exit 0 (the worker gives up on the unreachable Redis at its stop deadline)')
  t.equal(unreachableLines().length, 3, 'one line per app about the outage, not one per reconnect attempt')
  t.notMatch(whileWaiting, /"level":50/, 'no error lines while it waits')
  t.notMatch(start.output(), /"msg":"(queue|worker) error"/, 'no per-attempt connection errors')
})

t.test('defects #25.18: the banner names Redis once and lists the webhooks page; the AOF warning is said once', async (t) => {
  // A Redis without AOF, given by REDIS_URL: the warning is for the operator, but from one app only.
  const redis = await startPrivateRedis()
  t.teardown(redis.destroy)
  const start = await npmStart(t, redis.url)
  const output = start.output
  // The whole banner: "Ctrl-C stops everything." also ends the message of a start still waiting.
  const banner = (): string => output().includes('Request Out is running') ? output().slice(output().indexOf('Request Out is running')) : ''
  await waitFor('npm start to say it is running', () => banner().includes('Ctrl-C stops everything.'), 120_000, 200)
  // The apps check persistence once each right after connecting: give the history writer time to.
  await waitFor('the history writer', () => output().includes('history writer started'), 30_000, 100)
  await new Promise((resolve) => setTimeout(resolve, 1000))
  t.match(banner(), new RegExp(`^Request Out is running \\(Redis: ${redis.url.replaceAll('/', '\\/')} \\(REDIS_URL\\); history`))
  t.equal(banner().split('\n')[0]?.split(redis.url.replace('redis://', '')).length, 2, 'the Redis address appears once in the first line')
  t.match(banner(), /webhooks: http:\/\/127\.0\.0\.1:\d+\/admin\/webhooks/)
  t.equal(output().split('\n').filter((l) => l.includes('Redis runs without AOF')).length, 1, 'one AOF warning, not one per app')
  start.interrupt()
  t.equal(await start.exited, 0)
})
