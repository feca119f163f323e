import t from 'tap'
import { parseCatalog } from '@request-out/product-catalog'
import { json, okResult, spawnWorker, startUpstream, waitFor, type AppProcess } from '@request-out/test-support'
import { httpProduct, keyOf, testBench } from './helpers.js'

// Short locks so a killed worker's job is taken over within seconds.
const FAST_RECOVERY = { WORKER_LOCK_DURATION_MS: '2000', WORKER_STALLED_INTERVAL_MS: '1000' }
const KEY_FORMAT = /^"ro1-[\w-]{43}"$/

t.test('every try of a ticket sends the same Idempotency-Key; another ticket or client another one; an upstream 409 is retried', async (t) => {
  const keys: Array<{ ticketId: unknown, key: string | undefined }> = []
  let calls = 0
  const upstream = await startUpstream(t, (body, req, res) => {
    keys.push({ ticketId: body.TicketId, key: req.headers['idempotency-key'] as string | undefined })
    calls++
    // First a 503, then the draft's 409 ("still processing"), then the result.
    if (body.TicketId === 'idem-1' && calls === 1) return json(res, 503, { Message: 'busy' })
    if (body.TicketId === 'idem-1' && calls === 2) return json(res, 409, { Message: 'a request with this key is being processed' })
    json(res, 200, okResult)
  })
  const product = httpProduct('idem', upstream.url, { Attempts: 4 })
  const bench = await testBench(t, [product])
  await bench.startWorker()
  await bench.submit(keyOf(product), 'idem-1', { Secret: 'nothing-personal-goes-out' })
  const record = await bench.waitForRecord('idem-1')
  t.equal(record.StatusCode, 200, 'a 409 with the key is a retry, not a rejection')
  const tries = keys.filter((k) => k.ticketId === 'idem-1')
  t.equal(tries.length, 3)
  t.match(tries[0]?.key, KEY_FORMAT, 'an sf-string of at most 255 characters')
  t.ok(tries.every((k) => k.key === tries[0]?.key), 'the same key on every try')
  t.notMatch(tries[0]?.key ?? '', /idem-1|client-a/, 'neither the TicketId nor the client is readable in it')

  await bench.submit(keyOf(product), 'idem-2')
  await bench.submit(keyOf(product), 'idem-1', undefined, 'client-b')
  await bench.waitForRecord('idem-2')
  await bench.waitForRecord('idem-1', 15_000, 'client-b')
  t.equal(new Set(keys.map((k) => k.key)).size, 3, 'another ticket, and the same TicketId of another client, send other keys')
})

t.test('a worker SIGKILLed while its upstream call is in flight: the next try sends the same key, and a deduplicating upstream does the work once', async (t) => {
  const created = new Map<string, string>()
  const seen: string[] = []
  let held = 0
  const upstream = await startUpstream(t, (_body, req, res) => {
    const key = String(req.headers['idempotency-key'])
    seen.push(key)
    // Deduplicates by the key, as docs/operations.md asks of an upstream: the resource is made once.
    if (!created.has(key)) created.set(key, `resource-${created.size + 1}`)
    // The first call never answers: its worker dies while it waits.
    if (held++ === 0) return
    json(res, 200, { ...okResult, ResourceId: created.get(key) })
  })
  const product = httpProduct('idem-kill', upstream.url, { Attempts: 3, TimeoutMs: 30_000 })
  const bench = await testBench(t, [product])
  const workers: AppProcess[] = []
  t.teardown(async () => { await Promise.all(workers.map(async (w) => w.stop('SIGKILL'))) })
  const victim = await spawnWorker({ ...bench.env, ...FAST_RECOVERY })
  workers.push(victim)
  await bench.submit(keyOf(product), 'killed-mid-call')
  await waitFor('the upstream call to be in flight', () => seen.length === 1, 15_000)
  await victim.stop('SIGKILL')
  workers.push(await spawnWorker({ ...bench.env, ...FAST_RECOVERY }))
  const record = await bench.waitForRecord('killed-mid-call', 30_000)
  t.equal(record.StatusCode, 200)
  t.equal(seen.length, 2, 'the upstream was called again by the worker that took the ticket over')
  t.equal(seen[1], seen[0], 'with the same Idempotency-Key')
  t.equal(created.size, 1, 'one resource created')
  t.match(record, { ResourceId: 'resource-1' })
  // #29.1: the try the dead worker left shows as lost, once, before the try that completed.
  const events = await bench.store.eventsOf('client-a', 'killed-mid-call')
  t.match(events.filter((e) => e.type === 'try-failed' || e.type === 'record').map((e) => e.fields), [
    { outcome: 'lost', attempt: '1', error: /worker running this try stopped/ },
    { code: 'SUCCESS', tries: '1', worker: /^.+:\d+$/ }
  ], 'the lost try is history')
})

t.test('a catalog that sets Idempotency-Key itself is refused at load', async (t) => {
  const product = httpProduct('fixed-key', 'http://127.0.0.1:9/verify', { Http: { Url: 'http://127.0.0.1:9/verify', Headers: { 'Idempotency-Key': 'same-for-all' } } })
  t.throws(() => parseCatalog({ Products: [product] }), /Idempotency-Key: Request Out sends each ticket's own/)
})
