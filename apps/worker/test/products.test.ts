import t from 'tap'
import pino from 'pino'
import { setTimeout as sleep } from 'node:timers/promises'
import { waitFor } from '@request-out/test-support'
import { httpProduct, json, keyOf, okResult, sandboxProduct, startUpstream, testBench } from './helpers.js'

t.test('sandbox: the seed example, a checked NIK, and a rejection', async (t) => {
  const sandbox = sandboxProduct('ektp')
  const bench = await testBench(t, [sandbox])
  await bench.startWorker()
  await bench.submit(keyOf(sandbox), 'plain')
  await bench.submit(keyOf(sandbox), 'with-nik', { NIK: '3201015508900001' })
  await bench.submit(keyOf(sandbox), 'bad-nik', { NIK: '3201013208900001' })
  t.match(await bench.waitForRecord('plain'), {
    TicketId: 'plain',
    Action: 'create',
    ResourceType: 'data',
    Resource: 'nik',
    ResourceId: /^\d{9}$/,
    Data: { Image: 'ok', NIK: '12345678910', Status: 'ok', Source: 'sandbox' },
    Status: 'success',
    Message: 'success',
    StatusCode: 200
  })
  t.match(await bench.waitForRecord('with-nik'), { Data: { NIK: '3201015508900001', Source: 'sandbox' }, StatusCode: 200 })
  t.match(await bench.waitForRecord('bad-nik'), { Status: 'failed', Code: 'PRODUCT_REJECTED', StatusCode: 422, Message: /birth day/ })
})

t.test('http product: success, 4xx rejection, 5xx then success, timeout then failure', async (t) => {
  let flaky = 0
  const upstream = await startUpstream(t, async (body, _req, res) => {
    switch (body.TicketId) {
      case 'ok': return json(res, 200, { ...okResult, ResourceId: `for-${String(body.ClientId)}` })
      case 'refused': return json(res, 422, { Message: 'NIK not registered' })
      case 'flaky': return (++flaky < 3) ? json(res, 503, { Message: 'busy' }) : json(res, 200, okResult)
      case 'slow': await sleep(1500); return json(res, 200, okResult)
      case 'garbage': return json(res, 200, { nothing: true })
    }
  })
  const product = httpProduct('verify', upstream.url, { Attempts: 3, TimeoutMs: 300, Backoff: { DelayMs: 20 } })
  const bench = await testBench(t, [product])
  await bench.startWorker()
  for (const id of ['ok', 'refused', 'flaky', 'slow', 'garbage']) await bench.submit(keyOf(product), id)

  t.match(await bench.waitForRecord('ok'), { StatusCode: 200, ResourceId: 'for-client-a', Data: { Status: 'ok' } }, 'the ticket and ClientId reach the upstream')
  t.match(upstream.calls.find((c) => c.TicketId === 'ok'), { TicketId: 'ok', Subject: 'test', SubjectType: 'http', SubjectIdentifier: 'verify', ClientId: 'client-a' })
  t.match(await bench.waitForRecord('refused'), { StatusCode: 422, Code: 'PRODUCT_REJECTED', Message: 'NIK not registered' }, "4xx: rejected with the upstream's message")
  t.equal(upstream.calls.filter((c) => c.TicketId === 'refused').length, 1, 'a rejection is not retried')
  t.match(await bench.waitForRecord('flaky'), { StatusCode: 200 }, '5xx twice, then success on the third try')
  t.equal(flaky, 3)
  t.match(await bench.waitForRecord('slow'), { StatusCode: 502, Code: 'PRODUCT_FAILED' }, 'timeouts retried, then 502')
  t.equal(upstream.calls.filter((c) => c.TicketId === 'slow').length, 3, 'three tries')
  t.match(await bench.waitForRecord('garbage'), { StatusCode: 502 }, 'a 2xx without a result is an error, retried, then 502')
})

t.test('a network error is retried', async (t) => {
  const product = httpProduct('down', 'http://127.0.0.1:1/verify', { Attempts: 2, Backoff: { DelayMs: 10 } })
  const bench = await testBench(t, [product])
  const worker = await bench.startWorker()
  await bench.submit(keyOf(product), 'n1')
  t.match(await bench.waitForRecord('n1'), { StatusCode: 502, Code: 'PRODUCT_FAILED' })
  const metrics = await worker.metrics.registry.metrics()
  t.match(metrics, /request_out_jobs_total\{product="test\/http\/down",outcome="retry"\} 1/)
  t.match(metrics, /request_out_jobs_total\{product="test\/http\/down",outcome="failed"\} 1/)
  t.match(metrics, /request_out_upstream_duration_seconds_count\{product="test\/http\/down",status="error"\} 2/)
})

t.test('isolation: a product with a 2 s upstream does not slow a fast one', async (t) => {
  const slowUpstream = await startUpstream(t, async (_b, _q, res) => { await sleep(2000); json(res, 200, okResult) })
  const slow = httpProduct('slow', slowUpstream.url, { Concurrency: 2, TimeoutMs: 5000 })
  const fast = sandboxProduct('fast', { Concurrency: 10 })
  const bench = await testBench(t, [slow, fast])
  await bench.startWorker()
  for (let i = 0; i < 20; i++) await bench.submit(keyOf(slow), `slow-${i}`)
  const started = Date.now()
  for (let i = 0; i < 50; i++) await bench.submit(keyOf(fast), `fast-${i}`)
  for (let i = 0; i < 50; i++) await bench.waitForRecord(`fast-${i}`)
  const took = Date.now() - started
  let slowDone = 0
  for (let i = 0; i < 20; i++) if (await bench.record(`slow-${i}`) !== undefined) slowDone++
  // Sharing one queue, the fast tickets would wait behind 20 slow ones (10 rounds of 2 s).
  t.ok(slowDone <= 2, `all 50 fast tickets done (${took} ms) while the slow product had finished ${slowDone} of 20`)
})

t.test('WORKER_PRODUCTS: a worker serves only its subset', async (t) => {
  const a = sandboxProduct('a')
  const b = sandboxProduct('b')
  const bench = await testBench(t, [a, b])
  await bench.startWorker({ WORKER_PRODUCTS: keyOf(a) })
  await bench.submit(keyOf(a), 'for-a')
  await bench.submit(keyOf(b), 'for-b')
  await bench.waitForRecord('for-a')
  t.equal(await bench.queues.get(keyOf(b))?.getWorkersCount(), 0, 'no worker listens on b')
  t.equal(await bench.queues.get(keyOf(b))?.getWaitingCount(), 1, 'so its ticket waits')
  t.equal(await bench.record('for-b'), undefined, 'b is not served')
  await bench.startWorker({ WORKER_PRODUCTS: keyOf(b) })
  t.match(await bench.waitForRecord('for-b'), { StatusCode: 200 }, 'until a worker for b starts')
  await t.rejects(bench.startWorker({ WORKER_PRODUCTS: 'no/such/product' }), /WORKER_PRODUCTS: not in the catalog: no\/such\/product/)
})

t.test('exactly one record when a job is delivered twice', async (t) => {
  const upstream = await startUpstream(t, (body, _q, res) => json(res, 200, { ...okResult, ResourceId: `call-${String(body.TicketId)}` }))
  const product = httpProduct('dup', upstream.url)
  const bench = await testBench(t, [product])
  // Two racing writers: the first outcome stays.
  const [one, two] = await Promise.all([
    bench.store.writeRecord('client-a', 'race', { ...okResult, TicketId: 'race', Subject: '', SubjectType: '', SubjectIdentifier: '', Action: 'create', Status: 'success', Message: 'first', StatusCode: 200 }),
    bench.store.writeRecord('client-a', 'race', { ...okResult, TicketId: 'race', Subject: '', SubjectType: '', SubjectIdentifier: '', Action: 'create', Status: 'success', Message: 'second', StatusCode: 200 })
  ])
  t.equal(Number(one) + Number(two), 1, 'one write wins')

  await bench.startWorker()
  await bench.submit(keyOf(product), 'twice')
  await bench.waitForRecord('twice')
  // Deliver the same ticket again, as at-least-once delivery may (a new job with another id).
  const queue = bench.queues.get(keyOf(product))
  const job = await queue?.getJob('Y2xpZW50LWE.twice')
  await queue?.add('ticket', job!.data, { jobId: 'redelivered-twice' })
  await waitFor('the redelivered job to finish', async () => (await (await queue?.getJob('redelivered-twice'))?.getState()) === 'completed', 10_000, 20)
  t.equal(upstream.calls.filter((c) => c.TicketId === 'twice').length, 1, 'the product is not called again')
  t.equal((await bench.record('twice'))?.ResourceId, 'call-twice', 'the first record stays')
  t.equal(await (await queue?.getJob('redelivered-twice'))?.getState(), 'completed')
})

t.test("an upstream's message reaches the record and the logs only scrubbed: no NIK however formatted, no secret, no raw body", async (t) => {
  process.env.TEST_UPSTREAM_TOKEN = 'tok-98765xyz-secret'
  t.teardown(() => { delete process.env.TEST_UPSTREAM_TOKEN })
  const upstream = await startUpstream(t, async (body, _req, res) => {
    switch (body.TicketId) {
      case 'echo': return json(res, 400, { Message: 'NIK 31710157-08450002 (also 3171 0157 0845 0002) refused for key sk-live-abcdef123456 and tok-98765xyz-secret' })
      case 'raw': res.writeHead(403, { 'content-type': 'text/html' }); res.end('<html>internal 3171015708450002 stack at /srv/app.js</html>')
    }
  })
  const product = httpProduct('scrub', upstream.url, {
    Attempts: 1,
    // eslint-disable-next-line no-template-curly-in-string -- the catalog's own ${NAME} placeholder
    Http: { Url: upstream.url, Headers: { 'x-api-key': 'sk-live-abcdef123456', authorization: 'Bearer ${TEST_UPSTREAM_TOKEN}' } }
  })
  const bench = await testBench(t, [product])
  const lines: string[] = []
  await bench.startWorker({ TEST_UPSTREAM_TOKEN: 'tok-98765xyz-secret' }, pino({ level: 'debug' }, { write: (line: string) => { lines.push(line) } }))
  await bench.submit(keyOf(product), 'echo')
  await bench.submit(keyOf(product), 'raw')
  const echo = await bench.waitForRecord('echo')
  t.match(echo, { StatusCode: 422, Code: 'PRODUCT_REJECTED', Message: 'NIK [redacted] (also [redacted]) refused for key [redacted] and [redacted]' })
  const raw = await bench.waitForRecord('raw')
  t.match(raw, { StatusCode: 422, Message: 'the product refused the ticket (upstream answered 403)' }, 'a body without a Message is not passed on')
  const everything = JSON.stringify([echo, raw]) + lines.join('\n')
  for (const leak of ['08450002', '0845 0002', 'sk-live-abcdef123456', 'tok-98765xyz-secret', '/srv/app.js', '<html>']) {
    t.notOk(everything.includes(leak), `${leak} is in no record and no log line`)
  }
  t.ok(lines.some((l) => l.includes('rejected by the product')), 'the rejection itself is logged')
})
