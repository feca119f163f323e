import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { freePort, hasRedisServer, spawnApp, spawnWorker, startPrivateRedis, waitFor, type AppProcess } from '@request-out/test-support'
import { keyOf, sandboxProduct, testBench } from './helpers.js'

// Short locks so a killed worker's jobs are taken over within seconds, not the default 30 s.
const FAST_RECOVERY = { WORKER_LOCK_DURATION_MS: '3000', WORKER_STALLED_INTERVAL_MS: '1000', LOG_LEVEL: 'info' }

async function countRecords (bench: Awaited<ReturnType<typeof testBench>>, ids: string[]): Promise<{ ok: number, other: number, missing: number }> {
  const result = { ok: 0, other: 0, missing: 0 }
  for (const id of ids) {
    const r = await bench.record(id)
    if (r === undefined) result.missing++
    else if (r.StatusCode === 200) result.ok++
    else result.other++
  }
  return result
}

t.test('three worker processes share 1,000 tickets while one is killed with SIGKILL', async (t) => {
  const product = sandboxProduct('shared', { Concurrency: 10, Sandbox: { LatencyMs: 50 } })
  const bench = await testBench(t, [product])
  const workers: AppProcess[] = []
  t.teardown(async () => { await Promise.all(workers.map(async (w) => w.stop('SIGKILL'))) })
  workers.push(...await Promise.all([1, 2, 3].map(async () => spawnWorker({ ...bench.env, ...FAST_RECOVERY }))))

  const ids = Array.from({ length: 1000 }, (_, i) => `shared-${i}`)
  for (const id of ids) await bench.submit(keyOf(product), id)
  // Kill one worker while it has jobs in hand.
  const victim = workers[0] as AppProcess
  await waitFor('the victim to be working', () => victim.lines.some((l) => l.msg === 'ticket completed: record stored'), 20_000)
  await victim.stop('SIGKILL')

  await waitFor('every ticket to have its record', async () => (await countRecords(bench, ids)).missing === 0, 90_000, 500)
  const counts = await countRecords(bench, ids)
  t.same(counts, { ok: 1000, other: 0, missing: 0 }, 'every ticket has a success record: none lost, none failed')
  const survivors = workers.slice(1).map((w) => w.lines.filter((l) => l.msg === 'ticket completed: record stored').length)
  t.ok(survivors.every((n) => n > 0), `both surviving workers took a share (${survivors.join(', ')})`)
  const queue = bench.queues.get(keyOf(product))
  const left = await queue?.getJobCounts('waiting', 'active', 'delayed', 'failed')
  t.same(left, { waiting: 0, active: 0, delayed: 0, failed: 0 }, 'nothing left behind, nothing failed')
})

t.test('SIGTERM drains: running jobs finish, the rest wait for another worker, exit 0', async (t) => {
  const product = sandboxProduct('drain', { Concurrency: 4, Sandbox: { LatencyMs: 1500 } })
  const bench = await testBench(t, [product])
  const first = await spawnWorker({ ...bench.env, ...FAST_RECOVERY, SHUTDOWN_TIMEOUT_MS: '10000' })
  t.teardown(async () => first.stop('SIGKILL'))
  const ids = Array.from({ length: 10 }, (_, i) => `drain-${i}`)
  for (const id of ids) await bench.submit(keyOf(product), id)
  const queue = bench.queues.get(keyOf(product))
  await waitFor('jobs to be running', async () => (await queue?.getJobCounts('active'))?.active === 4, 10_000)
  t.equal(await first.stop('SIGTERM'), 0, 'exit code 0')
  // Defects #25.19: closing its own connections is no outage.
  t.notOk(first.lines.some((l) => String(l.msg).startsWith('redis unreachable')), 'a clean stop says nothing of Redis being unreachable')
  const afterStop = await countRecords(bench, ids)
  t.equal(afterStop.ok, 4, 'the 4 running tickets finished before exit')
  t.same(await queue?.getJobCounts('active', 'waiting'), { active: 0, waiting: 6 }, 'the others are waiting, untouched')

  const second = spawnApp('worker', { ...bench.env, ...FAST_RECOVERY })
  t.teardown(async () => second.stop('SIGKILL'))
  await waitFor('all records', async () => (await countRecords(bench, ids)).ok === 10, 30_000, 200)
  t.pass('the next worker finished the rest: nothing lost')
})

t.test('SIGTERM past SHUTDOWN_TIMEOUT_MS hands running jobs back to the queue', async (t) => {
  const product = sandboxProduct('handback', { Concurrency: 2, Sandbox: { LatencyMs: 4000 } })
  const bench = await testBench(t, [product])
  const first = await spawnWorker({ ...bench.env, ...FAST_RECOVERY, SHUTDOWN_TIMEOUT_MS: '300' })
  t.teardown(async () => first.stop('SIGKILL'))
  for (const id of ['hb-1', 'hb-2']) await bench.submit(keyOf(product), id)
  const queue = bench.queues.get(keyOf(product))
  await waitFor('jobs to be running', async () => (await queue?.getJobCounts('active'))?.active === 2, 10_000)
  t.equal(await first.stop('SIGTERM'), 0, 'exit code 0 even though jobs were cut short')
  t.ok(first.lines.some((l) => l.msg === 'running jobs did not finish in time; handing them back to the queue' && l.running === 2), 'says how many were cut short')
  t.equal((await countRecords(bench, ['hb-1', 'hb-2'])).ok, 0, 'no record yet')
  const second = spawnApp('worker', { ...bench.env, ...FAST_RECOVERY, WORKER_STALLED_INTERVAL_MS: '1000' })
  t.teardown(async () => second.stop('SIGKILL'))
  await waitFor('the handed-back jobs to complete', async () => (await countRecords(bench, ['hb-1', 'hb-2'])).ok === 2, 30_000, 200)
  t.pass('another worker completed them')
})

t.test('Redis restarted under a running worker: it resumes by itself', { skip: hasRedisServer() ? false : 'redis-server is not installed' }, async (t) => {
  const redis = await startPrivateRedis(['--appendonly', 'yes', '--appendfsync', 'always'])
  t.teardown(async () => redis.destroy())
  const product = sandboxProduct('restart', { Concurrency: 5 })
  const bench = await testBench(t, [product], redis.url)
  const worker = await spawnWorker({ ...bench.env, ...FAST_RECOVERY })
  t.teardown(async () => worker.stop('SIGKILL'))
  const { healthPort } = worker
  await bench.submit(keyOf(product), 'before')
  await bench.waitForRecord('before')

  await redis.stop()
  const ready = async (): Promise<number> => (await fetch(`http://127.0.0.1:${String(healthPort)}/health/ready`)).status
  await waitFor('the worker to report Redis gone', async () => (await ready()) === 503, 15_000, 50)
  await redis.restart()
  await bench.submit(keyOf(product), 'after')
  t.match(await bench.waitForRecord('after', 30_000), { StatusCode: 200 }, 'a ticket sent after the restart is processed')
  t.match(await bench.record('before'), { StatusCode: 200 }, 'the earlier record survived (AOF)')
  t.equal(worker.child.exitCode, null, 'the worker never exited')
})

t.test('a worker that cannot reach Redis still stops on SIGTERM and SIGINT, within SHUTDOWN_TIMEOUT_MS and a margin', async (t) => {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    // Nothing listens on this port: the worker starts, retries Redis for ever, and is told to stop.
    const worker = await spawnWorker({ REDIS_URL: `redis://127.0.0.1:${await freePort()}`, SHUTDOWN_TIMEOUT_MS: '1000', LOG_LEVEL: 'info' }, 'live')
    t.teardown(async () => worker.stop('SIGKILL'))
    const exited = worker.stop(signal)
    const code = await Promise.race([exited, sleep(20_000).then(() => 'still running after 20 s')])
    t.not(code, 'still running after 20 s', `${signal}: the process ended`)
    t.ok(code === 0 || code === 1, `${signal}: exit code ${String(code)}`)
    // Defects #25.19: no job ran, so none is said to be cut short.
    t.notOk(worker.lines.some((l) => String(l.msg).startsWith('running jobs did not finish')), `${signal}: no word of running jobs when none ran`)
  }
})
