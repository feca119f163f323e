import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import { redisKeys } from '@request-out/redis-keys'
import { TEST_REDIS_URL, json, okResult, spawnWorker, startUpstream, waitFor, type AppProcess } from '@request-out/test-support'
import { readBreaker, stateAt } from '@request-out/upstream-breaker'
import { httpProduct, keyOf, testBench } from './helpers.js'

const jobId = (ticketId: string): string => `${Buffer.from('client-a').toString('base64url')}.${ticketId}`

t.test('two worker processes share one breaker: it opens on failures in a row, holds every waiting ticket without spending attempts, survives a worker\'s restart, lets only probes through, and closes when the upstream is back', async (t) => {
  let down = true
  const callsAt: number[] = []
  const upstream = await startUpstream(t, (_body, _req, res) => {
    callsAt.push(Date.now())
    if (down) json(res, 503, { Message: 'upstream down' })
    else json(res, 200, okResult)
  })
  const product = httpProduct('guarded', upstream.url, {
    Attempts: 10,
    Concurrency: 2,
    Backoff: { DelayMs: 50, Jitter: 0 },
    Breaker: { ConsecutiveFailures: 4, MinCalls: 100, WindowMs: 5000, OpenMs: 1000, MaxOpenMs: 2000 }
  })
  const bench = await testBench(t, [product])
  const redis = new Redis(TEST_REDIS_URL)
  const keys = redisKeys(bench.prefix)
  const breaker = async () => await readBreaker(redis, keys, keyOf(product))
  const workers: AppProcess[] = []
  t.teardown(async () => {
    await Promise.all(workers.map(async (w) => w.stop()))
    redis.disconnect()
  })
  workers.push(await spawnWorker(bench.env), await spawnWorker(bench.env))
  const ids = ['g-1', 'g-2', 'g-3']
  for (const id of ids) await bench.submit(keyOf(product), id)

  const opened = await waitFor('the breaker to open', async () => { const b = await breaker(); return b.state === 'open' ? b : undefined }, 15_000)
  t.match(opened.reason, /failures in a row/)
  const queue = bench.queues.get(keyOf(product))
  // Tries under way when it opened finish theirs; then nothing moves until the probe.
  await sleep(300)
  const attempts = async (): Promise<number> => (await Promise.all(ids.map(async (id) => (await queue?.getJob(jobId(id)))?.attemptsMade ?? 0))).reduce((a, b) => a + b, 0)
  const attemptsWhileOpen = await attempts()
  t.ok(attemptsWhileOpen < ids.length * 10, `the tickets are still queued (${attemptsWhileOpen} attempts spent before it opened)`)
  const callsAtOpen = callsAt.length

  // A worker restarted while open starts from the shared state: it calls nobody either.
  await workers[0]!.stop('SIGKILL')
  workers[0] = await spawnWorker(bench.env)
  const probesSeen = await waitFor('a probe to fail and open the breaker again', async () => {
    const b = await breaker()
    return b.state === 'open' && b.since > opened.since ? b : undefined
  }, 10_000)
  t.ok(probesSeen.probeAt - probesSeen.since >= 1900, 'a failed probe doubles the open interval (to MaxOpenMs here)')
  t.equal(callsAt.length - callsAtOpen, 1, 'while open, the upstream received the probe only')
  t.equal(await attempts(), attemptsWhileOpen, 'the failed probe spent no attempt')
  for (const id of ids) t.equal(await bench.record(id), undefined, `${id}: no record yet, still waiting`)

  down = false
  const back = Date.now()
  await waitFor('the breaker to close', async () => (await breaker()).state === 'closed', 10_000, 50)
  const closedAfter = Date.now() - back
  t.ok(closedAfter <= 2000 * 1.2 + 1000, `closed ${closedAfter} ms after the upstream came back (within the open interval + 1 s)`)
  for (const id of ids) t.match(await bench.waitForRecord(id, 15_000), { StatusCode: 200 }, `${id}: completed once the upstream was back`)
  t.equal(await attempts(), attemptsWhileOpen + ids.length, 'one more attempt each: the successful one')
  t.equal(stateAt(await breaker(), Date.now()), 'closed')
})

t.test('rejections never open the breaker: a 4xx shows the upstream up', async (t) => {
  const upstream = await startUpstream(t, (body, _req, res) => {
    if (String(body.TicketId).endsWith('-409')) json(res, 409, { Message: 'still processing' })
    else json(res, 400, { Message: 'the data is wrong' })
  })
  const product = httpProduct('picky', upstream.url, {
    Attempts: 2,
    Concurrency: 4,
    Backoff: { DelayMs: 20, Jitter: 0 },
    Breaker: { ConsecutiveFailures: 3, MinCalls: 3, WindowMs: 5000, OpenMs: 1000, MaxOpenMs: 1000 }
  })
  const bench = await testBench(t, [product])
  const redis = new Redis(TEST_REDIS_URL)
  t.teardown(() => redis.disconnect())
  await bench.startWorker()
  const ids = [...Array.from({ length: 12 }, (_, i) => `bad-${i}`), 'again-409', 'twice-409']
  for (const id of ids) await bench.submit(keyOf(product), id)
  for (const id of ids.slice(0, 12)) t.match(await bench.waitForRecord(id), { StatusCode: 422, Code: 'PRODUCT_REJECTED' })
  // A 409 is retried (the key's first request still runs), and still no failure of the upstream.
  for (const id of ids.slice(12)) t.match(await bench.waitForRecord(id), { StatusCode: 502 })
  await sleep(400)
  t.equal((await readBreaker(redis, redisKeys(bench.prefix), keyOf(product))).state, 'closed', '16 answers, 0 failures: closed')
})

t.test('Breaker: false turns it off: failures go on to PRODUCT_FAILED as before', async (t) => {
  const upstream = await startUpstream(t, (_body, _req, res) => json(res, 500, { Message: 'broken' }))
  const product = httpProduct('unguarded', upstream.url, { Attempts: 1, Concurrency: 4, Breaker: false })
  const bench = await testBench(t, [product])
  const redis = new Redis(TEST_REDIS_URL)
  t.teardown(() => redis.disconnect())
  await bench.startWorker()
  const ids = Array.from({ length: 15 }, (_, i) => `off-${i}`)
  for (const id of ids) await bench.submit(keyOf(product), id)
  for (const id of ids) t.match(await bench.waitForRecord(id), { StatusCode: 502, Code: 'PRODUCT_FAILED' })
  t.same(await redis.exists(redisKeys(bench.prefix).breaker(keyOf(product))), 0, 'no breaker state at all')
})
