import t from 'tap'
import { json, okResult, startUpstream, waitFor } from '@request-out/test-support'
import { backPressureMs } from '../src/handlers/back-pressure.js'
import { httpProduct, keyOf, testBench } from './helpers.js'

t.test('what an upstream\'s 429 or 503 asks for: Retry-After (seconds or a date), or the RateLimit fields', async (t) => {
  const now = Date.parse('2026-12-02T10:00:00Z')
  t.equal(backPressureMs(429, { 'retry-after': '2' }, now), 2000)
  t.equal(backPressureMs(503, { 'retry-after': 'Wed, 02 Dec 2026 10:00:05 GMT' }, now), 5000, 'an HTTP date')
  t.equal(backPressureMs(429, { ratelimit: '"default";r=0;t=3' }, now), 3000, 'the current draft\'s RateLimit field')
  t.equal(backPressureMs(429, { ratelimit: '"default";r=5;t=3' }, now), undefined, 'quota left: no wait asked')
  t.equal(backPressureMs(429, { 'ratelimit-remaining': '0', 'ratelimit-reset': '4' }, now), 4000, 'the earlier draft\'s fields')
  t.equal(backPressureMs(429, {}, now), undefined, 'a 429 without a hint keeps the ticket\'s own backoff')
  t.equal(backPressureMs(503, {}, now), undefined, 'a 503 without one is a failure')
  t.equal(backPressureMs(500, { 'retry-after': '2' }, now), undefined, 'only 429 and 503 ask for a pause')
  t.equal(backPressureMs(429, { 'retry-after': 'soon' }, now), undefined, 'an unreadable value is no hint')
})

t.test('a 429 with Retry-After: 2 pauses the product on every worker for 2 s, without spending the ticket\'s attempt', async (t) => {
  let firstAnswerAt: number | undefined
  const callsAt: number[] = []
  const upstream = await startUpstream(t, (_body, _req, res) => {
    const now = Date.now()
    callsAt.push(now)
    if (firstAnswerAt === undefined || now < firstAnswerAt + 2000) {
      firstAnswerAt ??= now
      res.writeHead(429, { 'retry-after': '2', 'content-type': 'application/json' }).end('{"Message":"slow down"}')
      return
    }
    json(res, 200, okResult)
  })
  // No catalog RateLimit, and one attempt only: a spent attempt would end the ticket PRODUCT_FAILED.
  const product = httpProduct('pressed', upstream.url, { Attempts: 1, Concurrency: 1 })
  const bench = await testBench(t, [product])
  await bench.startWorker()
  await bench.startWorker()
  const ids = Array.from({ length: 4 }, (_, i) => `pressed-${i}`)
  for (const id of ids) await bench.submit(keyOf(product), id)
  for (const id of ids) t.match(await bench.waitForRecord(id, 20_000), { StatusCode: 200 }, `${id}: completed after the pause, its one attempt unspent`)
  const first = firstAnswerAt ?? 0
  // Calls already on their way when the first 429 was answered are let through (200 ms of grace).
  const during = callsAt.filter((at) => at > first + 200 && at < first + 1900)
  t.same(during, [], 'no worker called the upstream while the product was paused')
  t.ok(callsAt.some((at) => at >= first + 1900), 'calls went on once the pause was over')
  await waitFor('the jobs to be done', async () => (await bench.queues.get(keyOf(product))?.getJobCounts('completed'))?.completed === ids.length, 5000)
  const job = await bench.queues.get(keyOf(product))?.getJob(`${Buffer.from('client-a').toString('base64url')}.pressed-0`)
  t.equal(job?.attemptsMade, 1, 'the paused tries were not counted: one attempt, the one that succeeded')
})
