import t, { type Test } from 'tap'
import { execFile } from 'node:child_process'
import { createServer } from 'node:http'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type { AddressInfo } from 'node:net'
import pg from 'pg'
import { parseTicketEvent } from '@request-out/record-store'
import { allTicketEvents, redisKeys, ticketKey } from '@request-out/redis-keys'
import { createTestDatabase, freePort, spawnWorker, startUpstream, json, okResult, uniquePrefix, waitFor, writeCatalog, TEST_REDIS_URL, WORKSPACE_ROOT, type AppProcess } from '@request-out/test-support'

const run = promisify(execFile)
import { startIntake, tokenFor } from './helpers.js'
import { RequestOutClient } from '@request-out/client'

const admin = tokenFor('ops', 'admin')
const client = tokenFor('client-a')
const PRODUCT = 'test/redrive/flaky'
const product = (url: string) => ({
  Subject: 'test',
  SubjectType: 'redrive',
  SubjectIdentifier: 'flaky',
  Name: 'flaky',
  Kind: 'http',
  // One try and no breaker: the outage ends each ticket PRODUCT_FAILED, as a redrive finds them.
  Attempts: 1,
  TimeoutMs: 2000,
  Breaker: false,
  Concurrency: 20,
  Http: { Url: url }
})
const ticket = (TicketId: string, Data?: Record<string, unknown>) => ({ TicketId, Subject: 'test', SubjectType: 'redrive', SubjectIdentifier: 'flaky', ...(Data === undefined ? {} : { Data }) })

/** An upstream down until healed, that records each ticket's Idempotency-Keys and creates one resource per key. */
async function outageUpstream (t: Test) {
  let healthy = false
  const keysByTicket = new Map<string, string[]>()
  const resources = new Set<string>()
  const upstream = await startUpstream(t, (body, req, res) => {
    const key = String(req.headers['idempotency-key'])
    keysByTicket.set(String(body.TicketId), [...(keysByTicket.get(String(body.TicketId)) ?? []), key])
    if (!healthy) return json(res, 503, { Message: 'down' })
    resources.add(key)
    json(res, 200, okResult)
  })
  return { url: upstream.url, keysByTicket, resources, heal: () => { healthy = true } }
}

t.test('after an outage: a dry run counts the failed tickets and queues nothing; the redrive completes each once, with its webhook and its same Idempotency-Key; a second redrive selects none', async (t) => {
  const upstream = await outageUpstream(t)
  const prefix = uniquePrefix('redrive')
  const catalog = writeCatalog([product(upstream.url)])
  const env = { REDIS_URL: TEST_REDIS_URL, QUEUE_PREFIX: prefix, PRODUCTS_FILE: catalog, LOG_LEVEL: 'warn', WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true' }
  const { app } = await startIntake(t, { PRODUCTS_FILE: catalog, WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true' }, prefix)
  const workers: AppProcess[] = [await spawnWorker(env)]
  t.teardown(async () => { await Promise.all(workers.map(async (w) => w.stop())) })
  const api = async (method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, token: string, payload?: object) =>
    await app.inject({ method, url, headers: { authorization: `Bearer ${token}` }, ...(payload === undefined ? {} : { payload }) })

  // The client's webhook receiver counts each ticket's completed events.
  const completedHooks = new Map<string, number>()
  const hook = createServer((req, res) => {
    let raw = ''
    req.on('data', (c: Buffer) => { raw += c.toString() })
    req.on('end', () => {
      const event = JSON.parse(raw) as { type: string, data: { TicketId: string } }
      if (event.type === 'ticket.completed') completedHooks.set(event.data.TicketId, (completedHooks.get(event.data.TicketId) ?? 0) + 1)
      res.writeHead(204).end()
    })
  })
  await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { hook.closeAllConnections(); hook.close() })
  t.equal((await api('PUT', '/v1/webhook', client, { Url: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook` })).statusCode, 201)

  const ids = Array.from({ length: 200 }, (_, i) => `out-${i}`)
  const posted = await Promise.all(ids.map(async (id, i) => (await api('POST', '/v1/request-out', client, ticket(id, i % 3 === 0 ? { Note: `n-${i}` } : undefined))).statusCode))
  t.same([...new Set(posted)], [202], '200 tickets accepted, a third with Data')
  await waitFor('every ticket to end PRODUCT_FAILED', async () => {
    const codes = await Promise.all(ids.map(async (id) => (await api('GET', `/v1/request-out/${id}`, client)).statusCode))
    return codes.every((c) => c === 502)
  }, 30_000, 200)
  upstream.heal()

  t.equal((await api('POST', '/v1/admin/redrives', admin, {})).statusCode, 400, 'a filter is required')
  t.equal((await api('POST', '/v1/admin/redrives', client, { Product: PRODUCT })).statusCode, 403, 'admins only')
  const dry = await api('POST', '/v1/admin/redrives', admin, { Product: PRODUCT })
  t.equal(dry.statusCode, 200)
  t.match(dry.json().Data, { RedriveId: null, DryRun: true, Selected: 200 }, 'a dry run (the default) counts them')
  t.equal(dry.json().Data.Sample.length, 10)
  t.match(dry.json().Data.Sample[0], { ClientId: 'client-a', TicketId: /^out-/, Product: PRODUCT, AcceptedAt: /^\d{4}-/ })
  t.equal((await api('GET', '/v1/request-out/out-0', client)).statusCode, 502, 'and queues nothing')
  // The typed client and the CLI, for admins.
  await app.listen({ port: 0, host: '127.0.0.1' })
  const baseUrl = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
  t.match(await new RequestOutClient({ baseUrl, token: admin }).redrive({ Product: PRODUCT }), { RedriveId: null, DryRun: true, Selected: 200 }, 'the typed client\'s dry run')
  const cli = async (...args: string[]): Promise<Record<string, unknown>> => {
    const { stdout } = await run(process.execPath, [join(WORKSPACE_ROOT, 'packages/client/dist/cli.js'), 'redrive', ...args], { env: { ...process.env, REQUEST_OUT_URL: baseUrl, REQUEST_OUT_TOKEN: admin } })
    return JSON.parse(stdout) as Record<string, unknown>
  }
  t.match(await cli('--product', PRODUCT), { RedriveId: null, DryRun: true, Selected: 200 }, 'the CLI\'s dry run (no --confirm)')

  const queue = app.ticketQueues.queueFor(PRODUCT)
  const firstTurns = await Promise.all(ids.map(async (id) => (await queue?.getJob(`${Buffer.from('client-a').toString('base64url')}.${id}`))?.priority ?? 0))
  const started = await api('POST', '/v1/admin/redrives', admin, { Product: PRODUCT, ClientId: 'client-a', DryRun: false })
  t.equal(started.statusCode, 202)
  const { RedriveId } = started.json().Data as { RedriveId: string }
  t.match(started.json().Data, { RedriveId: String, DryRun: false, Selected: 200 })
  t.match(RedriveId, /^[0-9a-f]{24}$/, 'an id that is never read as a command-line option (no leading "-")')
  const done = await waitFor('the redrive to be done', async () => {
    const p = (await api('GET', `/v1/admin/redrives/${RedriveId}`, admin)).json().Data as Record<string, unknown>
    return p.State === 'done' ? p : undefined
  }, 60_000, 200)
  t.same(done, { RedriveId, State: 'done', Selected: 200, Queued: 200, Completed: 200, FailedAgain: 0, Skipped: 0 })
  t.match(await cli('status', RedriveId), { RedriveId, State: 'done', Queued: 200 }, 'the CLI\'s status')
  const newTurns = await Promise.all(ids.map(async (id) => (await queue?.getJob(`${Buffer.from('client-a').toString('base64url')}.${id}`))?.priority ?? 0))
  // Sent back, each takes a new turn of its client (the fair-share script's), not its first POST's:
  // without one, every ticket would have kept the priority it had.
  t.ok(newTurns.some((p, i) => p !== firstTurns[i]), 'under fair sharing each ticket sent back takes a new turn of its client')
  for (const id of ids) {
    const record = (await api('GET', `/v1/request-out/${id}`, client)).json() as Record<string, unknown>
    if (record.StatusCode !== 200) t.fail(`${id}: ${String(record.StatusCode)}`)
  }
  const events = await Promise.all(ids.map(async (id) => (await app.recordStore.eventsOf('client-a', id)).map((e) => e.type)))
  t.ok(events.every((types) => types.filter((x) => x === 'record').length === 2 && types.filter((x) => x === 'redriven').length === 1),
    'each ticket: its failed record, one redriven event, one new record')
  const sameKey = ids.every((id) => { const keys = upstream.keysByTicket.get(id) ?? []; return keys.length === 2 && keys[0] === keys[1] })
  t.ok(sameKey, 'the upstream saw each ticket\'s old and new try with the same Idempotency-Key')
  t.equal(upstream.resources.size, 200, 'one resource per ticket')
  await waitFor('one completed webhook per ticket', () => completedHooks.size === 200, 20_000, 100)
  t.ok([...completedHooks.values()].every((n) => n === 1), 'each ticket\'s completed webhook once')

  const audited: Array<Record<string, string>> = []
  for (const stream of allTicketEvents(redisKeys(prefix))) {
    for (const [id, flat] of await app.redis.producer.xrange(stream, '-', '+')) {
      const e = parseTicketEvent(id, flat)
      if (e?.type === 'audit' && e.fields.action === 'redrive.start') audited.push(e.fields as Record<string, string>)
    }
  }
  t.match(audited, [{ actor: 'ops', target: `redrive:${RedriveId}` }], 'the start is audited once, by its operator')
  t.match(JSON.parse(audited[0]?.after ?? '{}'), { Filter: { Product: PRODUCT, ClientId: 'client-a' }, Selected: 200 }, 'with the filter and the count')

  const again = await api('POST', '/v1/admin/redrives', admin, { Product: PRODUCT, DryRun: false })
  t.match({ status: again.statusCode, data: again.json().Data }, { status: 200, data: { RedriveId: null, Selected: 0 } }, 'a second redrive of the same filter selects none')
  t.equal((await api('GET', '/v1/admin/redrives/no-such', admin)).statusCode, 404)
  t.match((await api('DELETE', `/v1/admin/redrives/${RedriveId}`, admin)).json().Data, { State: 'done' }, 'a redrive that is over is answered as it is')
})

t.test('a redrive whose tickets Redis forgot (their hashes and jobs gone, as after retention) is served from the history, Data included', async (t) => {
  const db = await createTestDatabase()
  t.teardown(db.drop)
  const bodies = new Map<string, Array<{ key: string, data: unknown }>>()
  let healthy = false
  const upstream = await startUpstream(t, (body, req, res) => {
    const id = String(body.TicketId)
    bodies.set(id, [...(bodies.get(id) ?? []), { key: String(req.headers['idempotency-key']), data: body.Data }])
    if (!healthy) return json(res, 503, { Message: 'down' })
    json(res, 200, okResult)
  })
  const prefix = uniquePrefix('redrive-history')
  const catalog = writeCatalog([product(upstream.url)])
  const env = { REDIS_URL: TEST_REDIS_URL, QUEUE_PREFIX: prefix, PRODUCTS_FILE: catalog, LOG_LEVEL: 'warn', DATABASE_URL: db.url }
  const { app } = await startIntake(t, { PRODUCTS_FILE: catalog, DATABASE_URL: db.url }, prefix)
  const workers: AppProcess[] = [await spawnWorker(env), await spawnWorker({ ...env, WORKER_ROLE: 'history', HISTORY_POLL_MS: '20' })]
  t.teardown(async () => { await Promise.all(workers.map(async (w) => w.stop())) })
  const api = async (method: 'GET' | 'POST' | 'DELETE', url: string, token: string, payload?: object) =>
    await app.inject({ method, url, headers: { authorization: `Bearer ${token}` }, ...(payload === undefined ? {} : { payload }) })
  const pool = new pg.Pool({ connectionString: db.url })
  t.teardown(async () => { await pool.end() })

  const ids = Array.from({ length: 20 }, (_, i) => `gone-${i}`)
  const dataOf = (i: number): Record<string, unknown> | undefined => i % 2 === 0 ? { Note: `n-${i}`, NIK: `31710157084500${String(i).padStart(2, '0')}` } : undefined
  for (const [i, id] of ids.entries()) t.equal((await api('POST', '/v1/request-out', client, ticket(id, dataOf(i)))).statusCode, 202)
  await waitFor('history to keep every failed ticket\'s input', async () =>
    (await pool.query("SELECT count(*)::int AS n FROM tickets WHERE code = 'PRODUCT_FAILED' AND input IS NOT NULL")).rows[0].n === 20, 30_000, 200)
  const keys = redisKeys(prefix)
  const acceptedAt = new Map(await Promise.all(ids.map(async (id) => [id, await app.redis.producer.hget(keys.ticket('client-a', id), 'at')] as const)))

  // Redis forgets them: the ticket hashes and the failed jobs go, as their retention would have it.
  const queue = app.ticketQueues.queueFor(PRODUCT)
  for (const id of ids) {
    await app.redis.producer.del(keys.ticket('client-a', id))
    await queue?.remove(ticketKey('client-a', id))
  }
  t.equal((await api('GET', '/v1/request-out/gone-3', client)).statusCode, 502, 'GET answers from the history meanwhile')
  // One erased by an operator; one TicketId accepted again (a new ticket), which fails too.
  t.equal((await api('DELETE', '/v1/admin/tickets/client-a/gone-0/personal-data', admin)).statusCode, 200)
  t.equal((await api('POST', '/v1/request-out', client, ticket('gone-1', { Note: 'again' }))).statusCode, 202)
  await waitFor('the new acceptance to fail in history', async () =>
    (await pool.query("SELECT count(*)::int AS n FROM tickets WHERE ticket_id = 'gone-1' AND code = 'PRODUCT_FAILED' AND input IS NOT NULL")).rows[0].n === 2, 30_000, 200)
  healthy = true

  const dry = await api('POST', '/v1/admin/redrives', admin, { Product: PRODUCT })
  t.match(dry.json().Data, { DryRun: true, Selected: 21 }, 'the history has all of them: 20, and gone-1\'s new acceptance')
  const started = await api('POST', '/v1/admin/redrives', admin, { Product: PRODUCT, DryRun: false })
  t.equal(started.statusCode, 202)
  const { RedriveId } = started.json().Data as { RedriveId: string }
  const done = await waitFor('the redrive to be done', async () => {
    const p = (await api('GET', `/v1/admin/redrives/${RedriveId}`, admin)).json().Data as Record<string, unknown>
    return p.State === 'done' ? p : undefined
  }, 60_000, 200)
  t.same(done, { RedriveId, State: 'done', Selected: 21, Queued: 19, Completed: 19, FailedAgain: 0, Skipped: 2 }, 'the erased one and gone-1\'s older acceptance skipped')
  t.equal(await app.redis.producer.exists(keys.redriveInputs(RedriveId)), 0, 'the inputs it held are gone once it is done')

  for (const [i, id] of ids.entries()) {
    if (i === 0) continue
    const tries = bodies.get(id) ?? []
    const res = await api('GET', `/v1/request-out/${id}`, client)
    if (res.statusCode !== 200) t.fail(`${id}: ${res.statusCode} ${res.body}`)
    if (i === 1) continue
    // Its one failed try and its redriven one: the same key, the same Data.
    if (tries.length !== 2 || tries[0]?.key !== tries[1]?.key) t.fail(`${id}: ${JSON.stringify(tries)}`)
    t.same(tries[1]?.data, dataOf(i) ?? null, `${id}: sent again with its Data`)
    t.equal(await app.redis.producer.hget(keys.ticket('client-a', id), 'at'), acceptedAt.get(id), `${id}: made again with its original acceptance`)
  }
  t.equal((bodies.get('gone-0') ?? []).length, 1, 'the erased ticket is never sent again')
  const again = bodies.get('gone-1') ?? []
  t.same(again.map((b) => b.data), [null, { Note: 'again' }, { Note: 'again' }], 'gone-1: its new acceptance redriven, not the old one')
  t.equal((await api('POST', '/v1/request-out', client, ticket('gone-2', dataOf(2)))).statusCode, 200, 'a re-POST of the same fields answers the record: its fingerprint is the original')
  t.equal((await api('POST', '/v1/request-out', client, ticket('gone-2', { Note: 'other' }))).statusCode, 409, 'other fields conflict')
  await waitFor('history to have the new records', async () =>
    (await pool.query("SELECT count(*)::int AS n FROM tickets WHERE code = 'SUCCESS'")).rows[0].n === 19, 30_000, 200)
  t.equal((await pool.query('SELECT count(*)::int AS n FROM tickets WHERE input IS NOT NULL AND code = \'SUCCESS\'')).rows[0].n, 0, 'a ticket that succeeded keeps no input')
})

t.test('the process running a redrive of 2,000 tickets is SIGKILLed halfway: another takes it over and every ticket is sent back exactly once', async (t) => {
  const upstream = await outageUpstream(t)
  const prefix = uniquePrefix('redrive-kill')
  const catalog = writeCatalog([product(upstream.url)])
  // Short locks: the tries the killed worker had running are taken over within seconds.
  const env = { REDIS_URL: TEST_REDIS_URL, QUEUE_PREFIX: prefix, PRODUCTS_FILE: catalog, LOG_LEVEL: 'warn', WORKER_LOCK_DURATION_MS: '2000', WORKER_STALLED_INTERVAL_MS: '1000' }
  const { app } = await startIntake(t, { PRODUCTS_FILE: catalog }, prefix)
  const workers: AppProcess[] = [await spawnWorker(env)]
  t.teardown(async () => { await Promise.all(workers.map(async (w) => w.stop('SIGKILL'))) })
  const batch = async (from: number) => await app.inject({
    method: 'POST',
    url: '/v1/request-out/batch',
    headers: { authorization: `Bearer ${client}` },
    payload: { Tickets: Array.from({ length: 500 }, (_, i) => ticket(`k-${from + i}`)) }
  })
  for (let from = 0; from < 2000; from += 500) t.equal((await batch(from)).statusCode, 200)
  const keys = redisKeys(prefix)
  await waitFor('2,000 failed jobs', async () => await app.redis.producer.zcard(keys.failed(PRODUCT)) === 2000, 60_000, 200)
  upstream.heal()
  const started = await app.inject({ method: 'POST', url: '/v1/admin/redrives', headers: { authorization: `Bearer ${admin}` }, payload: { Product: PRODUCT, DryRun: false } })
  const { RedriveId, Selected } = started.json().Data as { RedriveId: string, Selected: number }
  t.equal(Selected, 2000)
  await waitFor('the redrive to be under way', async () => await app.redis.producer.zcard(keys.redriveQueued(RedriveId)) >= 400, 60_000, 10)
  await workers[0]!.stop('SIGKILL')
  const queuedAtKill = await app.redis.producer.zcard(keys.redriveQueued(RedriveId))
  t.ok(queuedAtKill < 2000, `killed halfway (${queuedAtKill} sent back)`)
  workers.push(await spawnWorker(env))
  const done = await waitFor('the redrive to be done', async () => {
    const p = (await app.inject({ method: 'GET', url: `/v1/admin/redrives/${RedriveId}`, headers: { authorization: `Bearer ${admin}` } })).json().Data as Record<string, unknown>
    return p.State === 'done' ? p : undefined
  }, 120_000, 500)
  t.match(done, { Selected: 2000, Queued: 2000, Completed: 2000, FailedAgain: 0, Skipped: 0 })
  const calls = [...upstream.keysByTicket.values()]
  t.equal(calls.length, 2000)
  // A redriven try the killed worker had running is tried again by another (the same key): the
  // upstream deduplicates it, so each ticket made one resource.
  t.ok(calls.every((k) => k.length >= 2 && k.every((key) => key === k[0])), 'each ticket: its failed try, then its redriven try(s), one Idempotency-Key')
  t.equal(upstream.resources.size, 2000, 'one resource per ticket')
  // Every group's stream read once (2,000 reads of one ticket each would each scan its stream).
  const redriven = new Map<string, number>()
  for (const stream of allTicketEvents(keys)) {
    for (const [id, flat] of await app.redis.producer.xrange(stream, '-', '+')) {
      const e = parseTicketEvent(id, flat)
      if (e?.type === 'redriven') redriven.set(e.ticketId, (redriven.get(e.ticketId) ?? 0) + 1)
    }
  }
  t.equal(redriven.size, 2000)
  t.ok([...redriven.values()].every((n) => n === 1), 'one redriven event per ticket')
})

t.test('a redrive asked while the history is not reachable answers 503 UNAVAILABLE, not 500', async (t) => {
  const port = await freePort()
  const { app } = await startIntake(t, { DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/none`, HISTORY_QUERY_TIMEOUT_MS: '500' })
  for (const DryRun of [true, false]) {
    const res = await app.inject({ method: 'POST', url: '/v1/admin/redrives', headers: { authorization: `Bearer ${admin}` }, payload: { Product: 'digitalid/enrollment/ektp', DryRun } })
    t.match({ status: res.statusCode, body: res.json() }, { status: 503, body: { Code: 'UNAVAILABLE', Message: /history is not reachable/ } }, `DryRun ${String(DryRun)}`)
  }
})
