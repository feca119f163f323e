import t from 'tap'
import { Redis } from 'ioredis'
import { TEST_REDIS_URL, hasRedisServer, spawnWorker, startPrivateRedis, waitFor } from '@request-out/test-support'
import { SEED_TICKET, getTicket, postTicket, rateLimitWithin, startIntake, tokenFor } from './helpers.js'

const client = tokenFor('client-a')
const batch = (tickets: unknown[]) => ({ method: 'POST' as const, url: '/v1/request-out/batch', headers: { authorization: `Bearer ${client}` }, payload: { Tickets: tickets } })

t.test('a batch: each ticket answered as its own POST would be, in order; records follow', async (t) => {
  const { app, prefix } = await startIntake(t, { BODY_LIMIT_BYTES: '1024' })
  t.equal((await postTicket(app, client, { ...SEED_TICKET, TicketId: 'taken' })).statusCode, 202)
  const res = await app.inject(batch([
    { ...SEED_TICKET, TicketId: 'b-1' },
    { ...SEED_TICKET, TicketId: 'bad id' },
    { ...SEED_TICKET, TicketId: 'b-2', SubjectIdentifier: 'nope' },
    { ...SEED_TICKET, TicketId: 'taken', Data: { NIK: '3201014509900001' } },
    { ...SEED_TICKET, TicketId: 'b-1' },
    { ...SEED_TICKET, TicketId: 'b-big', Data: { Image: 'x'.repeat(2000) } },
    { ...SEED_TICKET, TicketId: 'b-3', Data: { Unknown: 1 } }
  ]))
  t.equal(res.statusCode, 200)
  const results = (res.json() as { Data: { Results: Array<Record<string, unknown>> } }).Data.Results
  t.match(results, [
    { TicketId: 'b-1', StatusCode: 202 },
    { TicketId: 'bad id', StatusCode: 400, Code: 'VALIDATION_ERROR', Errors: [{ Field: '/TicketId' }] },
    { TicketId: 'b-2', StatusCode: 404, Code: 'PRODUCT_NOT_AVAILABLE' },
    { TicketId: 'taken', StatusCode: 409, Code: 'TICKET_CONFLICT' },
    { TicketId: 'b-1', StatusCode: 202 },
    { TicketId: 'b-big', StatusCode: 413, Code: 'PAYLOAD_TOO_LARGE' },
    { TicketId: 'b-3', StatusCode: 400, Code: 'VALIDATION_ERROR', Errors: [{ Field: '/Data/Unknown' }] }
  ], 'one result per ticket, in request order, as single POSTs would answer')
  t.equal(results.length, 7)
  const worker = await spawnWorker({ REDIS_URL: TEST_REDIS_URL, QUEUE_PREFIX: prefix })
  t.teardown(async () => { await worker.stop() })
  await waitFor('b-1 recorded', async () => (await getTicket(app, client, 'b-1')).statusCode === 200, 15_000, 50)
  t.equal((await getTicket(app, client, 'b-2')).statusCode, 404)
  t.equal((await app.inject(batch(Array.from({ length: 1001 }, (_, i) => ({ ...SEED_TICKET, TicketId: `x-${i}` }))))).statusCode, 400, 'more than 1,000: 400')
  t.match((await app.inject(batch([]))).json(), { Code: 'VALIDATION_ERROR' })
})

t.test('the rate limit counts tickets: those past it answer 429, and Retry-After is set', async (t) => {
  const { app } = await startIntake(t, await rateLimitWithin(5))
  const res = await app.inject(batch(Array.from({ length: 8 }, (_, i) => ({ ...SEED_TICKET, TicketId: `r-${i}` }))))
  const codes = (res.json() as { Data: { Results: Array<{ StatusCode: number }> } }).Data.Results.map((r) => r.StatusCode)
  t.same(codes, [202, 202, 202, 202, 202, 429, 429, 429])
  t.equal(res.headers['retry-after'], '1')
  const next = await app.inject(batch([{ ...SEED_TICKET, TicketId: 'r-9' }]))
  t.match(next.json(), { Data: { Results: [{ StatusCode: 429, Code: 'RATE_LIMITED' }] } }, 'the window is used up')
})

t.test('defects #25.6: a deeply nested ticket is refused on its own (400), and sizes are bytes as for a single POST', async (t) => {
  const { app } = await startIntake(t, { BODY_LIMIT_BYTES: '1024' })
  // Nested far past what JSON.stringify can walk on the stack: the batch parser took it.
  const deepBody = `{"Tickets":[${JSON.stringify({ ...SEED_TICKET, TicketId: 'd-ok' })},{"TicketId":"d-deep","Subject":"digitalid","SubjectType":"enrollment","SubjectIdentifier":"ektp","Data":${'{"a":'.repeat(20_000)}1${'}'.repeat(20_000)}}]}`
  const res = await app.inject({ method: 'POST', url: '/v1/request-out/batch', headers: { authorization: `Bearer ${client}`, 'content-type': 'application/json' }, payload: deepBody })
  t.equal(res.statusCode, 200, res.body.slice(0, 200))
  t.match(res.json(), { Data: { Results: [{ TicketId: 'd-ok', StatusCode: 202 }, { TicketId: 'd-deep', StatusCode: 400, Code: 'VALIDATION_ERROR', Errors: [{ Field: '/Data' }] }] } })
  // 400 characters of a three-byte letter: 1,200 bytes, over the 1,024-byte limit a single POST applies.
  const wide = { ...SEED_TICKET, TicketId: 'd-wide', Data: { Name: 'ก'.repeat(400) } }
  t.equal((await postTicket(app, client, wide)).statusCode, 413, 'a single POST of it answers 413')
  t.match((await app.inject(batch([wide]))).json(), { Data: { Results: [{ TicketId: 'd-wide', StatusCode: 413, Code: 'PAYLOAD_TOO_LARGE' }] } }, 'and so does its batch entry')
})

t.test('defects #25.11: a batch answers the RateLimit fields, counting its tickets', async (t) => {
  const { app } = await startIntake(t, await rateLimitWithin(50))
  const res = await app.inject(batch(Array.from({ length: 8 }, (_, i) => ({ ...SEED_TICKET, TicketId: `rl-${i}` }))))
  t.equal(res.statusCode, 200)
  t.match(res.headers['ratelimit-policy'], /^"requests";q=50;w=\d+$/)
  t.match(res.headers.ratelimit, /^"requests";r=42;t=\d+$/, '8 of 50 used')
  const single = await postTicket(app, client, { ...SEED_TICKET, TicketId: 'rl-single' })
  t.match(single.headers.ratelimit, /^"requests";r=41;t=\d+$/, 'a single POST counts from the same budget')
})

t.test('a batch\'s tickets of one client take their fair-share turns with one script call a chunk of 50, not one each', { skip: hasRedisServer() ? false : 'redis-server is not installed' }, async (t) => {
  // A Redis of the test's own: its command counts are this intake's alone.
  const redis = await startPrivateRedis()
  t.teardown(async () => redis.destroy())
  const { app } = await startIntake(t, { REDIS_URL: redis.url })
  const probe = new Redis(redis.url)
  t.teardown(() => probe.disconnect())
  const scripts = async (): Promise<number> => {
    const stats = await probe.info('commandstats')
    return ['evalsha', 'eval'].reduce((n, c) => n + Number(new RegExp(`cmdstat_${c}:calls=(\\d+)`).exec(stats)?.[1] ?? 0), 0)
  }
  // Warm: the scripts are loaded, the queue counts read.
  t.equal((await app.inject(batch([{ ...SEED_TICKET, TicketId: 'warm-0' }]))).statusCode, 200)
  const before = await scripts()
  const n = 200
  const res = await app.inject(batch(Array.from({ length: n }, (_, i) => ({ ...SEED_TICKET, TicketId: `turns-${i}` }))))
  t.equal(res.statusCode, 200)
  t.ok(res.json().Data.Results.every((r: { StatusCode: number }) => r.StatusCode === 202), 'every ticket accepted')
  const used = (await scripts()) - before
  // Per ticket its claim and BullMQ's add (a script too); for the batch one rate lease and, for the
  // client's turns, one call per chunk of 50 tickets started together. A turn per ticket would make
  // it 3 per ticket.
  t.ok(used <= 2 * n + 1 + n / 50 + 2, `${used} script calls for ${n} tickets (a claim and an add each, the turns a chunk together)`)
})
