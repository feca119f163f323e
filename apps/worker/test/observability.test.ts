import t from 'tap'
import { spawnSync } from 'node:child_process'
import { WORKSPACE_ROOT, hasRedisServer, spawnApp, startPrivateRedis, waitFor } from '@request-out/test-support'
import { httpProduct, json, keyOf, sandboxProduct, startUpstream, testBench } from './helpers.js'

t.test("the worker's /health and /metrics listener moves with traffic", async (t) => {
  const product = sandboxProduct('metrics')
  const bench = await testBench(t, [product])
  const worker = await bench.startWorker()
  const base = `http://127.0.0.1:${worker.healthPort}`
  t.same(await (await fetch(`${base}/health/live`)).json(), { Status: 'ok', Checks: { process: true } })
  const ready = await waitFor('the worker to be ready', async () => {
    const r = await fetch(`${base}/health/ready`)
    return r.status === 200 ? r : undefined
  }, 10_000)
  t.same(await ready.json(), { Status: 'ok', Checks: { redis: true, workers: true } })

  for (let i = 0; i < 5; i++) await bench.submit(keyOf(product), `m-${i}`)
  for (let i = 0; i < 5; i++) await bench.waitForRecord(`m-${i}`)
  const text = await (await fetch(`${base}/metrics`)).text()
  t.match(text, /request_out_jobs_total\{product="test\/sandbox\/metrics",outcome="completed"\} 5/)
  t.match(text, /request_out_job_duration_seconds_count\{product="test\/sandbox\/metrics",outcome="completed"\} 5/)
  t.match(text, /request_out_queue_jobs\{product="test\/sandbox\/metrics",state="completed"\} 5/)
  t.match(text, /process_cpu_user_seconds_total/)
  t.equal((await fetch(`${base}/nothing`)).status, 404)
})

t.test('personal data an upstream echoes back is scrubbed from the record and the job', async (t) => {
  const nik = '3201015508900001'
  const upstream = await startUpstream(t, (body, _q, res) => json(res, 422, { Message: `NIK ${String((body.Data as { NIK: string }).NIK)} is not registered` }))
  const product = httpProduct('echo', upstream.url, {
    InputSchema: { type: 'object', properties: { NIK: { type: 'string', 'x-personal': true } } }
  })
  const bench = await testBench(t, [product])
  await bench.startWorker()
  await bench.submit(keyOf(product), 'echo-1', { NIK: nik })
  const record = await bench.waitForRecord('echo-1')
  t.match(record, { StatusCode: 422, Message: 'NIK [redacted] is not registered' })
  const job = await bench.queues.get(keyOf(product))?.getJob('Y2xpZW50LWE.echo-1')
  t.notMatch(job?.failedReason ?? '', nik, "the job's failedReason (shown on the dashboard) has no NIK")
})

t.test('a bad variable stops the worker with a message that names it', async (t) => {
  for (const [name, value] of [['WORKER_METRICS_PORT', 'ninety'], ['WORKER_PRODUCTS', 'a/b/c'], ['REDIS_URL', 'http://x'], ['PRODUCTS_FILE', '/no/such/file.json']]) {
    const r = spawnSync(process.execPath, ['apps/worker/dist/main.js'], { cwd: WORKSPACE_ROOT, env: { ...process.env, [name as string]: value }, encoding: 'utf8', timeout: 20_000 })
    t.equal(r.status, 1, `${name}: exit 1`)
    t.match(r.stderr, new RegExp(name as string), `${name}: named in ${JSON.stringify(r.stderr.trim().slice(0, 160))}`)
  }
})

t.test('a Redis that may evict keys gets a warning that says why', { skip: hasRedisServer() ? false : 'redis-server is not installed' }, async (t) => {
  const redis = await startPrivateRedis(['--maxmemory-policy', 'allkeys-lru'])
  t.teardown(async () => redis.destroy())
  const worker = spawnApp('worker', { REDIS_URL: redis.url, LOG_LEVEL: 'info' })
  t.teardown(async () => worker.stop())
  // BullMQ prints its own console line too; ours is the structured one that says why.
  const line = await worker.waitForLine((l) => l.policy === 'allkeys-lru')
  t.match(line, { level: 40, policy: 'allkeys-lru', msg: /evict queued jobs.*lost/ })
})
