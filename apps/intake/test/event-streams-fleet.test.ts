import t from 'tap'
import { createServer, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'
import {
  TEST_REDIS_URL, createTestDatabase, deleteKeys, freePort, json, okResult, openEventStream, spawnApp, spawnWorker, startUpstream,
  uniquePrefix, waitFor, writeCatalog, type AppProcess
} from '@request-out/test-support'
import { Redis } from 'ioredis'
import { trimEventStreams } from '@request-out/record-store'
import { tokenFor } from './helpers.js'

const PRODUCT = { Subject: 'live', SubjectType: 'watch', SubjectIdentifier: 'retry' }

t.test('two intakes, two workers: a client watches a ticket with a retry; a reconnect with Last-Event-ID to the other intake yields the rest; the ids are the history\'s and the webhook\'s', async (t) => {
  const db = await createTestDatabase()
  t.teardown(db.drop)
  let calls = 0
  const upstream = await startUpstream(t, (_body, _req, res) => {
    // The first try fails (a retry), the second answers.
    calls++
    if (calls === 1) json(res, 500, { Message: 'not now' })
    else json(res, 200, okResult)
  })
  const hooks: Array<{ headers: IncomingHttpHeaders, body: Record<string, unknown> }> = []
  const hook = createServer((req, res) => {
    let raw = ''
    req.on('data', (c: Buffer) => { raw += c.toString() })
    req.on('end', () => {
      hooks.push({ headers: req.headers, body: JSON.parse(raw) as Record<string, unknown> })
      res.writeHead(204).end()
    })
  })
  await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { hook.closeAllConnections(); hook.close() })

  const catalog = writeCatalog([{ ...PRODUCT, Name: 'watched', Kind: 'http', Attempts: 3, Backoff: { DelayMs: 400, Jitter: 0 }, TimeoutMs: 5000, Breaker: false, Http: { Url: upstream.url } }])
  const prefix = uniquePrefix('sse-fleet')
  const env = { REDIS_URL: TEST_REDIS_URL, QUEUE_PREFIX: prefix, PRODUCTS_FILE: catalog, LOG_LEVEL: 'warn', DATABASE_URL: db.url, WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true' }
  const processes: AppProcess[] = []
  t.teardown(async () => {
    await Promise.all(processes.map(async (p) => await p.stop()))
    await deleteKeys(prefix)
  })
  const ports = [await freePort(), await freePort()]
  for (const port of ports) processes.push(spawnApp('intake', { ...env, PORT: String(port) }))
  processes.push(await spawnWorker(env), await spawnWorker(env), await spawnWorker({ ...env, WORKER_ROLE: 'history', HISTORY_POLL_MS: '20' }))
  const [a, b] = ports.map((port) => `http://127.0.0.1:${port}`) as [string, string]
  for (const base of [a, b]) await waitFor('an intake', async () => (await fetch(`${base}/health/ready`).catch(() => undefined))?.ok, 20_000, 100)

  const headers = { authorization: `Bearer ${tokenFor('demo-client')}`, 'content-type': 'application/json' }
  const registered = await fetch(`${a}/v1/webhook`, { method: 'PUT', headers, body: JSON.stringify({ Url: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hooks` }) })
  t.equal(registered.status, 201)
  // Dispatchers read endpoints at most once a second.
  await new Promise((resolve) => setTimeout(resolve, 1200))

  t.equal((await fetch(`${a}/v1/request-out`, { method: 'POST', headers, body: JSON.stringify({ ...PRODUCT, TicketId: 'watched-1' }) })).status, 202)
  const first = await openEventStream(`${a}/v1/request-out/watched-1/events`, { authorization: headers.authorization })
  t.equal(first.status, 200)
  const accepted = await first.next()
  t.equal(accepted?.event, 'accepted')
  // The client goes away after the first event, and comes back to the other intake.
  first.close()
  const second = await openEventStream(`${b}/v1/request-out/watched-1/events`, { authorization: headers.authorization, 'last-event-id': accepted?.id ?? '' })
  t.equal(second.status, 200)
  const rest = await second.rest(20_000)
  const seen = [accepted, ...rest].map((e) => ({ type: e?.event, id: e?.id, data: JSON.parse(e?.data ?? '{}') as Record<string, unknown> }))
  t.same(seen.map((e) => e.type), ['accepted', 'try-failed', 'record'], 'accepted, the failed try, the record: in order, nothing twice')
  t.same(seen.map((e) => e.id), seen.map((e) => e.data.Id), 'each frame\'s id is its event\'s id')
  t.equal(new Set(seen.map((e) => e.id)).size, 3)
  t.match(seen[1]?.data, { Type: 'try-failed', TicketId: 'watched-1', Attempt: 1, Product: 'live/watch/retry' })
  t.match(seen[2]?.data, { Type: 'record', Code: 'SUCCESS', Attempt: 2 })

  // The same ids in the history's timeline…
  const admin = { authorization: `Bearer ${tokenFor('demo-admin', 'admin')}` }
  const timeline = await waitFor('the history to hold the three events', async () => {
    const res = await fetch(`${a}/v1/admin/tickets/demo-client/watched-1`, { headers: admin })
    if (res.status !== 200) return undefined
    const entries = ((await res.json()) as { Data: { Timeline: Array<{ Id: string, Type: string }> } }).Data.Timeline
    return entries.length >= 3 ? entries : undefined
  }, 20_000, 200)
  t.same(timeline.map((e) => [e.Type, e.Id]), seen.map((e) => [e.type, e.id]), 'the timeline carries the same ids')
  // …and in the webhook: the header and the body's id.
  const delivered = await waitFor('the webhook', () => hooks[0], 15_000)
  t.equal(delivered.headers['webhook-id'], seen[2]?.id, 'webhook-id is the record event\'s id')
  t.equal(delivered.body.id, seen[2]?.id, 'and so is the body\'s id')

  // Once the streams let the events go (the history stored them first), the ticket's stream is
  // told from the history: the same events, the same ids.
  const redis = new Redis(TEST_REDIS_URL)
  t.teardown(() => redis.disconnect())
  await trimEventStreams(redis, prefix, { unconsumedMs: 0, keepMs: 0 })
  const replayed = await (await openEventStream(`${b}/v1/request-out/watched-1/events`, { authorization: headers.authorization })).rest()
  t.same(replayed.map((e) => [e.event, e.id]), seen.map((e) => [e.type, e.id]), 'trimmed from Redis: replayed from the history, same ids')

  // Resumed after the record on either intake: nothing more will come.
  t.equal((await openEventStream(`${a}/v1/request-out/watched-1/events`, { authorization: headers.authorization, 'last-event-id': seen[2]?.id ?? '' })).status, 204)
})
