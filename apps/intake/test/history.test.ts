import t, { type Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import pg from 'pg'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Redis } from 'ioredis'
import {
  TEST_REDIS_URL, createTestDatabase, spawnWorker, startTestPostgres, uniquePrefix, waitFor, type AppProcess
} from '@request-out/test-support'
import { SANDBOX, SEED_TICKET, getTicket, postTicket, startIntake, tokenFor } from './helpers.js'
import { redisKeys } from '@request-out/redis-keys'

const admin = tokenFor('ops', 'admin')
const client = tokenFor('client-a')

interface Harness {
  app: FastifyInstance
  prefix: string
  databaseUrl: string
  writer: AppProcess
}

/** An intake with history on, a products worker and a history writer, all on a database of the test's own. */
async function harness (t: Test, serverUrl?: string, intakeEnv: Record<string, string> = {}, workerEnv: Record<string, string> = {}): Promise<Harness> {
  const db = await createTestDatabase(serverUrl)
  t.teardown(db.drop)
  const prefix = uniquePrefix('history')
  const common = { REDIS_URL: TEST_REDIS_URL, QUEUE_PREFIX: prefix, DATABASE_URL: db.url, ...workerEnv }
  const { app } = await startIntake(t, { DATABASE_URL: db.url, ...intakeEnv }, prefix)
  const worker = await spawnWorker(common)
  t.teardown(async () => { await worker.stop() })
  const writer = await spawnWorker({ ...common, WORKER_ROLE: 'history', HISTORY_POLL_MS: '20', HISTORY_CLAIM_IDLE_MS: '1000' })
  t.teardown(async () => { await writer.stop() })
  return { app, prefix, databaseUrl: db.url, writer }
}

const ticket = (id: string, data: Record<string, unknown> = {}) => ({ ...SEED_TICKET, TicketId: id, Data: data })

async function adminGet (app: FastifyInstance, url: string): Promise<{ status: number, body: any }> {
  const res = await app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${admin}` } })
  return { status: res.statusCode, body: res.json() }
}

async function searchCount (app: FastifyInstance, query: string): Promise<number> {
  let n = 0
  let cursor = ''
  for (;;) {
    const page = await adminGet(app, `/v1/admin/tickets?Limit=500${query}${cursor === '' ? '' : `&Cursor=${cursor}`}`)
    if (page.status !== 200) return -1
    n += page.body.Data.Tickets.length
    cursor = page.body.Data.NextCursor ?? ''
    if (cursor === '') return n
  }
}

t.test('history: search, timeline, GET after Redis forgot the ticket, erasure and the audit trail', async (t) => {
  const h = await harness(t)
  const { app } = h
  for (const id of ['hist-1', 'hist-2', 'other-3']) {
    const res = await postTicket(app, client, ticket(id, { NIK: '3201015508900001' }), { prefer: 'wait=10' })
    t.equal(res.statusCode, 200, `${id} completed`)
  }
  await waitFor('three tickets in history', async () => await searchCount(app, '&ClientId=client-a&Code=SUCCESS') === 3, 15_000)

  const page = await adminGet(app, '/v1/admin/tickets?TicketId=hist*&ClientId=client-a')
  t.equal(page.status, 200)
  t.match(page.body.Data, { Tickets: [{ TicketId: 'hist-2', ClientId: 'client-a', Product: SANDBOX, Code: 'SUCCESS', Attempts: 1 }, { TicketId: 'hist-1' }], NextCursor: null })
  t.equal(page.body.Data.Tickets.length, 2)

  const detail = await adminGet(app, '/v1/admin/tickets/client-a/hist-1')
  t.equal(detail.status, 200)
  t.same(detail.body.Data.Timeline.map((e: { Type: string }) => e.Type), ['accepted', 'record'])
  t.match(detail.body.Data.Record, { TicketId: 'hist-1', Data: { NIK: '[redacted]', Status: 'ok' } }, 'operators see personal fields redacted')
  t.equal((await adminGet(app, '/v1/admin/tickets/client-a/nope')).status, 404)

  // Redis forgets the ticket (its RECORD_TTL_SECONDS passed): GET answers from PostgreSQL.
  const fromRedis = (await getTicket(app, client, 'hist-1')).json()
  await app.redis.producer.del(redisKeys(h.prefix).ticket('client-a', 'hist-1'))
  const fromHistory = await getTicket(app, client, 'hist-1')
  t.equal(fromHistory.statusCode, 200)
  t.same(fromHistory.json(), fromRedis, 'the same envelope, from history')
  const longPoll = await getTicket(app, client, 'hist-1', { prefer: 'wait=5' })
  t.equal(longPoll.statusCode, 200, 'a long poll answers at once with the stored record')
  t.match((await getTicket(app, client, 'never-sent')).json(), { Code: 'NOT_FOUND' }, 'NOT_FOUND only for what neither holds')

  // Defects #25.3: an acceptance Redis lost before it was processed will never get its record:
  // NOT_FOUND (so the client POSTs it again), not IN_PROCESS for as long as history keeps it.
  await app.recordStore.claim('client-a', 'lost-1', 'fp', SANDBOX)
  await waitFor('the acceptance in history', async () => (await adminGet(app, '/v1/admin/tickets/client-a/lost-1')).status === 200, 15_000)
  await app.redis.producer.del(redisKeys(h.prefix).ticket('client-a', 'lost-1'))
  t.match((await getTicket(app, client, 'lost-1')).json(), { Code: 'NOT_FOUND', StatusCode: 404 })
  t.equal((await postTicket(app, client, ticket('lost-1'), { prefer: 'wait=10' })).statusCode, 200, 'its re-POST is a new ticket that completes')

  // Erasure: at once, in history and in Redis, audited.
  const erased = await app.inject({ method: 'DELETE', url: '/v1/admin/tickets/client-a/hist-2/personal-data', headers: { authorization: `Bearer ${admin}` } })
  t.equal(erased.statusCode, 200)
  t.match(erased.json(), { Data: { RecordsErased: 1 } })
  t.match((await getTicket(app, client, 'hist-2')).json(), { Data: { NIK: '[erased]', Status: 'ok' } }, 'GET answers the erased record')
  const db = new pg.Client({ connectionString: h.databaseUrl })
  await db.connect()
  t.teardown(() => db.end())
  const stored = await db.query("SELECT record, personal_data_erased_at FROM tickets WHERE ticket_id = 'hist-2'")
  t.match(stored.rows[0], { record: { Data: { NIK: '[erased]' } }, personal_data_erased_at: Date })
  t.equal((await db.query("SELECT count(*)::int AS n FROM tickets WHERE record::text LIKE '%3201015508900001%' AND ticket_id = 'hist-2'")).rows[0].n, 0)

  // Operator writes, each with its audit row: the availability switch, a revocation, the erasure, a dashboard removal.
  const headers = { authorization: `Bearer ${admin}` }
  const productUrl = `/v1/products/${SANDBOX}/availability`
  t.equal((await app.inject({ method: 'PUT', url: productUrl, headers, payload: { Available: false, Reason: 'maintenance' } })).statusCode, 200)
  t.equal((await app.inject({ method: 'PUT', url: productUrl, headers, payload: { Available: true } })).statusCode, 200)
  t.equal((await app.inject({ method: 'POST', url: '/v1/admin/revocations', headers, payload: { Username: 'client-b' } })).statusCode, 200)
  const queue = app.ticketQueues.all().find(([key]) => key === SANDBOX)?.[1]
  const job = (await queue?.getJobs(['completed']))?.find((j) => j.data.TicketId === 'other-3')
  const removal = await app.inject({
    method: 'PUT',
    url: `/admin/queues/api/queues/${encodeURIComponent(queue?.name ?? '')}/${encodeURIComponent(job?.id ?? '')}/clean`,
    headers: { cookie: `ro_admin_session=${admin}` }
  })
  t.equal(removal.statusCode, 204, 'a finished job removed from the dashboard')
  // Defects #25.10: a refused cancel (the ticket is final) is not audited as done.
  const refusedCancel = await app.inject({ method: 'DELETE', url: '/v1/request-out/other-3?ClientId=client-a', headers })
  t.equal(refusedCancel.statusCode, 409)
  await waitFor('five audit rows', async () => (await adminGet(app, '/v1/admin/audit')).body.Data?.Entries.length === 5, 15_000)
  const audit = (await adminGet(app, '/v1/admin/audit')).body.Data.Entries as Array<Record<string, unknown>>
  t.same(audit.map((e) => e.Action), ['job.remove', 'revocation.add', 'availability.set', 'availability.set', 'personal-data.erase'], 'no ticket.cancel row for the refused cancel')
  t.match(audit[0], { Actor: 'ops', Address: '127.0.0.1', ClientId: 'client-a', TicketId: 'other-3', Before: { state: 'completed' } })
  t.match(audit[2], { Target: SANDBOX, Before: { Available: false, Reason: 'maintenance' }, After: { Available: true } })
  t.match(audit[3], { Before: { Available: true }, After: { Available: false, Reason: 'maintenance' } })
  t.match(audit[4], { Actor: 'ops', ClientId: 'client-a', TicketId: 'hist-2' })
  t.same((await adminGet(app, '/v1/admin/audit?Action=availability.set')).body.Data.Entries.length, 2)
  t.match((await adminGet(app, '/v1/admin/tickets/client-a/other-3')).body.Data.Timeline.map((e: { Type: string }) => e.Type), ['accepted', 'record', 'job.remove'])

  // Refusals: a client token, a bad cursor, a bad filter.
  t.equal((await app.inject({ method: 'GET', url: '/v1/admin/tickets', headers: { authorization: `Bearer ${client}` } })).statusCode, 403)
  t.match(await adminGet(app, '/v1/admin/tickets?Cursor=bm9wZQ'), { status: 400, body: { Code: 'VALIDATION_ERROR' } })
  t.match(await adminGet(app, '/v1/admin/tickets?Limit=501'), { status: 400, body: { Code: 'VALIDATION_ERROR' } })
  t.match(await adminGet(app, '/v1/admin/tickets?From=yesterday'), { status: 400, body: { Code: 'VALIDATION_ERROR' } })
  // Defects #25.7: valid-looking but out of range, or a cursor tampered with: 400 naming the field, not 503.
  const field = (body: any): string => body.Data?.Errors?.[0]?.Field
  for (const url of ['/v1/admin/tickets', '/v1/admin/audit']) {
    const from = await adminGet(app, `${url}?From=0000-01-01T00:00:00Z`)
    t.match(from, { status: 400, body: { Code: 'VALIDATION_ERROR' } }, `${url}: From in year 0`)
    t.equal(field(from.body), '/From')
    t.equal(field((await adminGet(app, `${url}?To=0000-12-31T00:00:00Z`)).body), '/To')
  }
  const tampered = (at: string, id: string): string => Buffer.from(JSON.stringify([at, id])).toString('base64url')
  for (const cursor of [tampered('2026-01-01T00:00:00.000Z', '9999999999999999999'), tampered('0000-01-01T00:00:00.000Z', '1')]) {
    const res = await adminGet(app, `/v1/admin/tickets?Cursor=${cursor}`)
    t.match(res, { status: 400, body: { Code: 'VALIDATION_ERROR' } }, 'a tampered cursor')
    t.equal(field(res.body), '/Cursor')
  }
})

/** Every value Redis holds under the prefix, whatever its type, as one text. */
async function redisText (redis: Redis, prefix: string): Promise<string> {
  const parts: string[] = []
  let cursor = '0'
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500)
    cursor = next
    for (const key of keys) {
      const type = await redis.type(key)
      const value = type === 'string'
        ? await redis.get(key)
        : type === 'hash'
          ? await redis.hgetall(key)
          : type === 'list'
            ? await redis.lrange(key, 0, -1)
            : type === 'set'
              ? await redis.smembers(key)
              : type === 'zset'
                ? await redis.zrange(key, 0, -1)
                : type === 'stream' ? await redis.xrange(key, '-', '+') : null
      parts.push(`${key} ${JSON.stringify(value)}`)
    }
  } while (cursor !== '0')
  return parts.join('\n')
}

/** Every row of every table of the history, as one text. */
async function databaseText (db: pg.Client): Promise<string> {
  const { rows: tables } = await db.query<{ name: string }>("SELECT quote_ident(tablename) AS name FROM pg_tables WHERE schemaname = 'public'")
  const parts: string[] = []
  for (const { name } of tables) parts.push(...(await db.query<{ row: string }>(`SELECT t::text AS row FROM ${name} t`)).rows.map((r) => `${name} ${r.row}`))
  return parts.join('\n')
}

t.test('defects #25.2: after an erasure no copy of a personal field remains in Redis or PostgreSQL, and no fingerprint is shown', async (t) => {
  const hooks = { WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true', WEBHOOK_RETRY_SCHEDULE: '1,1' }
  const h = await harness(t, undefined, hooks, hooks)
  const { app } = h
  const got: string[] = []
  const receiver = createServer((req, res) => {
    let body = ''
    req.on('data', (c: Buffer) => { body += c.toString() })
    req.on('end', () => { got.push(body); res.writeHead(204).end() })
  })
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', () => resolve()))
  t.teardown(() => new Promise((resolve) => receiver.close(resolve)))
  const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`
  const auth = { authorization: `Bearer ${client}` }
  t.equal((await app.inject({ method: 'PUT', url: '/v1/webhook', headers: auth, payload: { Url: url } })).statusCode, 201)

  const NIK = '3201015508907777'
  const sent = ticket('erase-me', { NIK })
  t.equal((await postTicket(app, client, sent, { prefer: 'wait=10' })).statusCode, 200)
  await waitFor('the webhook delivered', async () => got.length === 1, 15_000)
  t.match(got[0], NIK, 'before the erasure the delivery carries the NIK (the scan below can see one)')
  await waitFor('the record in history', async () => (await adminGet(app, '/v1/admin/tickets/client-a/erase-me')).body.Data?.Code === 'SUCCESS', 15_000)
  const db = new pg.Client({ connectionString: h.databaseUrl })
  await db.connect()
  t.teardown(() => db.end())
  const redis = app.redis.producer as Redis
  t.match(await redisText(redis, h.prefix), NIK, 'before: Redis holds the NIK')
  t.match(await databaseText(db), NIK, 'before: PostgreSQL holds the NIK')
  const timeline = (await adminGet(app, '/v1/admin/tickets/client-a/erase-me')).body.Data.Timeline as Array<{ Details: Record<string, unknown> }>
  t.notOk(timeline.some((e) => 'fp' in e.Details || 'record' in e.Details), 'the timeline shows no fingerprint and no record')

  const erased = await app.inject({ method: 'DELETE', url: '/v1/admin/tickets/client-a/erase-me/personal-data', headers: { authorization: `Bearer ${admin}` } })
  t.equal(erased.statusCode, 200)
  const inRedis = await redisText(redis, h.prefix)
  t.notMatch(inRedis, NIK, 'after: no key under the prefix holds the NIK (ticket hash, product job, streams, webhook events, delivery jobs)')
  t.match(inRedis, /\[erased\]/, 'the erased copies are there, erased')
  t.notMatch(await databaseText(db), NIK, 'after: no row of any table holds it')

  const resent = await app.inject({ method: 'POST', url: '/v1/request-out/erase-me/deliveries', headers: auth })
  t.equal(resent.statusCode, 202)
  await waitFor('the re-send delivered', async () => got.length === 2, 15_000)
  t.notMatch(got[1], NIK, 'a re-send after the erasure sends the erased event')
  t.match(JSON.parse(got[1] ?? '{}'), { data: { TicketId: 'erase-me', Data: { NIK: '[erased]' } } })

  // The fingerprint went with the erasure: a re-POST answers the ticket's (erased) state, never 409.
  const again = await postTicket(app, client, sent)
  t.equal(again.statusCode, 200)
  t.match(again.json(), { TicketId: 'erase-me', Data: { NIK: '[erased]' } })
  t.equal((await postTicket(app, client, ticket('erase-me', { NIK: '3201015508900001' }))).statusCode, 200, 'with other fields too: nothing is left to compare')
  t.notMatch(await redisText(redis, h.prefix), NIK, 'the re-POSTs brought nothing back')
})

t.test('defects #25.7: an intake whose database has no schema yet says so', async (t) => {
  const db = await createTestDatabase()
  t.teardown(db.drop)
  const { app } = await startIntake(t, { DATABASE_URL: db.url })
  t.match(await adminGet(app, '/v1/admin/tickets'), { status: 503, body: { Code: 'UNAVAILABLE', Message: /no schema yet.*WORKER_ROLE=history/ } })
})

t.test('without DATABASE_URL the history routes answer 503 and GET is as before', async (t) => {
  const { app } = await startIntake(t)
  t.match(await adminGet(app, '/v1/admin/tickets'), { status: 503, body: { Code: 'UNAVAILABLE', Message: /DATABASE_URL/ } })
  t.match(await adminGet(app, '/v1/admin/audit'), { status: 503, body: { Code: 'UNAVAILABLE' } })
  t.match((await getTicket(app, client, 'never-sent')).json(), { Code: 'NOT_FOUND' })
})

t.test('PostgreSQL stopped under load: tickets still processed, GET of a forgotten ticket 503 (not NOT_FOUND), the backlog bound, nothing missing after', async (t) => {
  const server = await startTestPostgres()
  t.teardown(server.destroy)
  const h = await harness(t, server.url, { HISTORY_BACKLOG_MAX: '1000' })
  const { app } = h
  await waitFor('the writer to apply the schema', async () => (await fetch(`http://127.0.0.1:${(h.writer as AppProcess & { healthPort: number }).healthPort}/health/ready`)).ok, 20_000)

  await server.stop()
  const accepted: string[] = []
  for (let i = 0; i < 150; i++) {
    const res = await postTicket(app, client, ticket(`load-${i}`))
    t.equal(res.statusCode, 202)
    accepted.push(`load-${i}`)
  }
  await waitFor('every ticket processed while PostgreSQL is down', async () =>
    (await Promise.all(accepted.map(async (id) => (await getTicket(app, client, id)).statusCode))).every((s) => s === 200), 30_000)
  const started = Date.now()
  const forgotten = await getTicket(app, client, 'forgotten-ticket')
  t.match(forgotten.json(), { Code: 'UNAVAILABLE' }, 'history unreachable: 503, never a false NOT_FOUND')
  t.equal(forgotten.statusCode, 503)
  t.ok(Date.now() - started < 2500, `answered in ${Date.now() - started} ms`)

  // Past HISTORY_BACKLOG_MAX (1000 events) the intake refuses rather than lose history.
  let refused: any
  for (let i = 0; i < 700 && refused === undefined; i++) {
    const res = await postTicket(app, client, ticket(`fill-${i}`))
    if (res.statusCode === 503) refused = res.json()
    else accepted.push(`fill-${i}`)
    if (i > 500) await new Promise((resolve) => setTimeout(resolve, 10)) // let the 2 s backlog read happen
  }
  t.match(refused, { Code: 'UNAVAILABLE', Message: /history is behind/i }, 'refused once the backlog passed the bound')
  t.ok(Number((await app.metrics.registry.getSingleMetricAsString('request_out_history_backlog')).split(' ').pop()) > 1000, 'the metric says so')

  await server.restart()
  await waitFor('the history to be complete', async () => await searchCount(app, '&ClientId=client-a') === accepted.length, 60_000, 250)
    .catch(async (err: Error) => { throw new Error(`${err.message} (${await searchCount(app, '&ClientId=client-a')} of ${accepted.length})\n${h.writer.output().slice(-3000)}`) })
  t.equal(await searchCount(app, '&ClientId=client-a&Code=IN_PROCESS'), 0, 'every record arrived')
  await waitFor('tickets accepted again', async () => (await postTicket(app, client, ticket('after-outage'))).statusCode === 202, 10_000, 250)
  const db = new pg.Client({ connectionString: h.databaseUrl })
  await db.connect()
  t.teardown(() => db.end())
  const events = await db.query<{ n: number, d: number }>("SELECT count(*)::int AS n, count(DISTINCT (client_id, ticket_id, type))::int AS d FROM ticket_events WHERE type IN ('accepted', 'record')")
  t.equal(events.rows[0]?.n, events.rows[0]?.d, 'no event stored twice')
})

t.test('a history writer killed mid-stream: another takes over its batch, nothing missing, nothing doubled', async (t) => {
  const h = await harness(t)
  const { app } = h
  const ids = Array.from({ length: 300 }, (_, i) => `kill-${i}`)
  const statuses = new Map<number, number>()
  const posting = (async () => {
    for (const id of ids) {
      const status = (await postTicket(app, client, ticket(id))).statusCode
      statuses.set(status, (statuses.get(status) ?? 0) + 1)
    }
  })()
  await waitFor('the writer storing', async () => await searchCount(app, '&ClientId=client-a') > 20, 30_000, 20)
    .catch((err: Error) => { throw new Error(`${err.message} (POST answers so far: ${JSON.stringify([...statuses])})\n${h.writer.output().slice(-3000)}`) })
  await h.writer.stop('SIGKILL')
  await posting
  t.same([...statuses], [[202, 300]], 'every ticket accepted')
  const second = await spawnWorker({ REDIS_URL: TEST_REDIS_URL, QUEUE_PREFIX: h.prefix, DATABASE_URL: h.databaseUrl, WORKER_ROLE: 'history', HISTORY_POLL_MS: '20', HISTORY_CLAIM_IDLE_MS: '1000' })
  t.teardown(async () => { await second.stop() })
  await waitFor('all 300 with their records', async () => await searchCount(app, '&ClientId=client-a&Code=SUCCESS') === 300, 60_000, 250)
  const db = new pg.Client({ connectionString: h.databaseUrl })
  await db.connect()
  t.teardown(() => db.end())
  const counts = await db.query<{ tickets: number, events: number }>("SELECT (SELECT count(*) FROM tickets)::int AS tickets, (SELECT count(*) FROM ticket_events WHERE type IN ('accepted', 'record'))::int AS events")
  t.same(counts.rows[0], { tickets: 300, events: 600 })
})
