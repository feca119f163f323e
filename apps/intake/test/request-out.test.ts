import t from 'tap'
import { readFileSync } from 'node:fs'
import { waitFor, waitingJobs } from '@request-out/test-support'
import { completedEnvelope, failedEnvelope, type TicketEnvelope } from '@request-out/contracts'
import { SANDBOX, SEED_TICKET, getTicket, login, postTicket, rateLimitWithin, startIntake, tokenFor } from './helpers.js'
import { redisKeys, ticketKey } from '@request-out/redis-keys'

const seed = (name: string): Record<string, unknown> =>
  JSON.parse(readFileSync(new URL(`../../../packages/contracts/test/fixtures/${name}.json`, import.meta.url), 'utf8')) as Record<string, unknown>

t.test('the seed request: 202, then in process, then the record', async (t) => {
  const { app } = await startIntake(t)
  const token = await login(app, 'demo-client', 'demo-client-secret')

  const accepted = await postTicket(app, token, SEED_TICKET)
  t.equal(accepted.statusCode, 202)
  t.equal(accepted.headers.location, `/v1/request-out/${SEED_TICKET.TicketId}`)
  t.equal(accepted.headers['retry-after'], '1')
  const body = accepted.json() as TicketEnvelope
  t.match(body, { ...SEED_TICKET, Action: 'create', Data: null, Status: 'success', StatusCode: 202 })
  t.notOk('Code' in body, 'no Code on a success')

  const job = await app.ticketQueues.queueFor(SANDBOX)?.getJob(ticketKey('demo-client', SEED_TICKET.TicketId))
  t.ok(job, 'the job is in Redis before the 202')
  t.match(job?.data, { ...SEED_TICKET, ClientId: 'demo-client' })
  t.equal(job?.opts.attempts, 3, "the product's attempts")

  const inProcess = await getTicket(app, token, SEED_TICKET.TicketId)
  t.equal(inProcess.statusCode, 404)
  t.equal(inProcess.headers['retry-after'], '1')
  const { Code, ...seedShape } = inProcess.json() as Record<string, unknown>
  t.equal(Code, 'IN_PROCESS')
  t.same(seedShape, seed('seed-in-process'), "the seed's in-process example, field for field")
  t.same(Object.keys(seedShape), Object.keys(seed('seed-in-process')), 'in the seed order')

  const record = completedEnvelope(SEED_TICKET, { ResourceType: 'data', Resource: 'nik', ResourceId: '321231990', Data: { Image: 'ok', NIK: '12345678910', Status: 'ok' } })
  t.ok(await app.recordStore.writeRecord('demo-client', SEED_TICKET.TicketId, record))
  const done = await getTicket(app, token, SEED_TICKET.TicketId)
  t.equal(done.statusCode, 200)
  t.same(done.json(), seed('seed-success'), "the seed's success example")
  t.equal(done.body, JSON.stringify(seed('seed-success')), 'byte for byte')
})

t.test('failed tickets answer 422 and 502 with the ticket and the product message', async (t) => {
  const { app } = await startIntake(t)
  const token = tokenFor('client-a')
  for (const [id, code, status] of [['rej-1', 'PRODUCT_REJECTED', 422], ['fail-1', 'PRODUCT_FAILED', 502]] as const) {
    const ticket = { ...SEED_TICKET, TicketId: id }
    t.equal((await postTicket(app, token, ticket)).statusCode, 202)
    await app.recordStore.writeRecord('client-a', id, failedEnvelope(ticket, code, `product says ${code}`))
    const res = await getTicket(app, token, id)
    t.equal(res.statusCode, status)
    t.match(res.json(), { ...ticket, Status: 'failed', Code: code, Message: `product says ${code}`, StatusCode: status })
  }
})

t.test('tenant isolation: tickets are namespaced per client; admins read any', async (t) => {
  const { app } = await startIntake(t)
  const a = tokenFor('client-a')
  const b = tokenFor('client-b')
  const admin = tokenFor('ops', 'admin')
  t.equal((await postTicket(app, a, SEED_TICKET)).statusCode, 202)

  const fromB = await getTicket(app, b, SEED_TICKET.TicketId)
  t.equal(fromB.statusCode, 404)
  t.match(fromB.json(), { Code: 'NOT_FOUND', TicketId: '' })
  t.equal((await getTicket(app, b, SEED_TICKET.TicketId, {}, '?ClientId=client-a')).statusCode, 403, 'a client may not name another client')
  t.match((await getTicket(app, admin, SEED_TICKET.TicketId, {}, '?ClientId=client-a')).json(), { Code: 'IN_PROCESS' }, 'admin reads it')

  // B uses the same TicketId with other fields: no conflict, its own ticket.
  const other = { ...SEED_TICKET, Data: { NIK: '3201014509900001' } }
  t.equal((await postTicket(app, b, other)).statusCode, 202)
  t.equal(await waitingJobs(app.ticketQueues.queueFor(SANDBOX)), 2, 'two jobs, one per client')
  t.not(ticketKey('client-a', SEED_TICKET.TicketId), ticketKey('client-b', SEED_TICKET.TicketId))
})

t.test('idempotency: same ticket again answers its state; other fields answer 409; nothing enqueued twice', async (t) => {
  const { app } = await startIntake(t)
  const token = tokenFor('client-a')
  const queue = app.ticketQueues.queueFor(SANDBOX)
  t.equal((await postTicket(app, token, SEED_TICKET)).statusCode, 202)
  const again = await postTicket(app, token, SEED_TICKET)
  t.equal(again.statusCode, 202, 'same fields: accepted again')
  t.equal(await waitingJobs(queue), 1, 'still one job')

  const conflict = await postTicket(app, token, { ...SEED_TICKET, SubjectIdentifier: 'ektp', Data: { NIK: '3201014509900001' } })
  t.equal(conflict.statusCode, 409)
  t.match(conflict.json(), { TicketId: SEED_TICKET.TicketId, Code: 'TICKET_CONFLICT', Status: 'failed', StatusCode: 409 })

  await app.recordStore.writeRecord('client-a', SEED_TICKET.TicketId, completedEnvelope(SEED_TICKET, { ResourceType: 'data', Resource: 'nik', ResourceId: '1', Data: null }))
  const afterRecord = await postTicket(app, token, SEED_TICKET)
  t.equal(afterRecord.statusCode, 200, 'once final, a re-POST answers the record')
  t.equal(await waitingJobs(queue), 1, 'and enqueues nothing')
})

t.test('the race: 20 concurrent identical POSTs enqueue one job', async (t) => {
  const { app } = await startIntake(t)
  const token = tokenFor('racer')
  const ticket = { ...SEED_TICKET, TicketId: 'race-1' }
  const answers = await Promise.all(Array.from({ length: 20 }, async () => postTicket(app, token, ticket)))
  t.same([...new Set(answers.map((a) => a.statusCode))], [202], 'every POST answers 202')
  const counts = await app.ticketQueues.queueFor(SANDBOX)?.getJobCounts('waiting', 'prioritized', 'active', 'delayed')
  t.equal((counts?.waiting ?? 0) + (counts?.prioritized ?? 0) + (counts?.active ?? 0) + (counts?.delayed ?? 0), 1, 'exactly one job')
})

t.test('Prefer: wait answers as soon as the record is stored', async (t) => {
  const { app } = await startIntake(t)
  const token = tokenFor('waiter')
  const ticket = { ...SEED_TICKET, TicketId: 'wait-1' }
  const record = completedEnvelope(ticket, { ResourceType: 'data', Resource: 'nik', ResourceId: '7', Data: { Status: 'ok' } })
  const started = Date.now()
  const answer = postTicket(app, token, ticket, { prefer: 'wait=10' })
  // The record comes while the POST is held.
  await waitFor('the POST to be held', () => app.recordWaiter.waitingCount === 1, 5000, 10)
  await app.recordStore.writeRecord('waiter', 'wait-1', record)
  const res = await answer
  const took = Date.now() - started
  t.equal(res.statusCode, 200)
  t.equal(res.headers['preference-applied'], 'wait=10')
  t.same(res.json(), record)
  t.ok(took < 5000, `answered when the record came, not at the deadline (${took} ms)`)

  const pending = { ...SEED_TICKET, TicketId: 'wait-2' }
  await postTicket(app, token, pending)
  const t0 = Date.now()
  const timedOut = await getTicket(app, token, 'wait-2', { prefer: 'wait=1' })
  t.equal(timedOut.statusCode, 404)
  t.match(timedOut.json(), { Code: 'IN_PROCESS' })
  t.ok(Date.now() - t0 >= 900, 'held for the requested second')

  const clamped = await getTicket(app, token, 'unknown-ticket', { prefer: 'wait=999' })
  t.equal(clamped.headers['preference-applied'], 'wait=30', 'N is capped at 30')
  t.match(clamped.json(), { Code: 'NOT_FOUND' }, 'an unknown ticket answers at once')

  const held = getTicket(app, token, 'wait-2', { prefer: 'wait=10' })
  await waitFor('the GET to be held', () => app.recordWaiter.waitingCount === 1, 5000, 10)
  await app.recordStore.writeRecord('waiter', 'wait-2', completedEnvelope(pending, { ResourceType: 'a', Resource: 'b', ResourceId: 'c', Data: null }))
  const woken = await held
  t.equal(woken.statusCode, 200, 'a GET long poll is woken by the record too')
})

t.test('product availability: unknown, switched off, not entitled', async (t) => {
  const { app } = await startIntake(t)
  const client = tokenFor('client-a')
  const admin = tokenFor('ops', 'admin')

  const unknown = await postTicket(app, client, { ...SEED_TICKET, SubjectIdentifier: 'nope' })
  t.equal(unknown.statusCode, 404)
  t.match(unknown.json(), { Code: 'PRODUCT_NOT_AVAILABLE', Message: 'Request on process / not available now', Data: null })

  const limited = tokenFor('limited-client')
  t.match((await postTicket(app, limited, SEED_TICKET)).json(), { Code: 'PRODUCT_NOT_AVAILABLE' }, 'not entitled')

  const off = await app.inject({
    method: 'PUT',
    url: `/v1/products/${SANDBOX}/availability`,
    headers: { authorization: `Bearer ${admin}` },
    payload: { Available: false, Reason: 'maintenance' }
  })
  t.equal(off.statusCode, 200)
  t.match(off.json(), { Data: { Key: SANDBOX, Available: false, Reason: 'maintenance', UpdatedBy: 'ops' } })
  const switchedOff = await postTicket(app, client, SEED_TICKET)
  t.match(switchedOff.json(), { Code: 'PRODUCT_NOT_AVAILABLE' }, 'switched off')
  // Defects #25.13: the seed's envelope byte for byte, the admin's reason in a header of its own.
  t.equal(switchedOff.body, unknown.body, 'the same envelope as any product not available')
  t.equal(switchedOff.headers['product-unavailable-reason'], 'maintenance')
  t.equal((await postTicket(app, limited, SEED_TICKET)).headers['product-unavailable-reason'], undefined, 'a client not entitled to the product is not told why')
  await app.inject({ method: 'PUT', url: `/v1/products/${SANDBOX}/availability`, headers: { authorization: `Bearer ${admin}` }, payload: { Available: false, Reason: 'Wartung bis 18:00 — 100% sicher\r\nX-Evil: 1' } })
  const encoded = (await postTicket(app, client, SEED_TICKET)).headers['product-unavailable-reason'] as string
  t.equal(decodeURIComponent(encoded), 'Wartung bis 18:00 — 100% sicher\r\nX-Evil: 1', 'any text survives as UTF-8 percent-encoding')
  t.notMatch(encoded, /[\r\n]/, 'and cannot split the header')
  await app.inject({ method: 'PUT', url: `/v1/products/${SANDBOX}/availability`, headers: { authorization: `Bearer ${admin}` }, payload: { Available: false, Reason: 'maintenance' } })

  const list = await app.inject({ method: 'GET', url: '/v1/products', headers: { authorization: `Bearer ${client}` } })
  t.match(list.json(), { Status: 'success', Data: { Products: [{ Key: SANDBOX, Available: false, Reason: 'maintenance' }] } })
  t.same((await app.inject({ method: 'GET', url: '/v1/products', headers: { authorization: `Bearer ${limited}` } })).json().Data.Products, [],
    'a client sees only its products')

  const forbidden = await app.inject({
    method: 'PUT', url: `/v1/products/${SANDBOX}/availability`, headers: { authorization: `Bearer ${client}` }, payload: { Available: true }
  })
  t.equal(forbidden.statusCode, 403)
  t.match(forbidden.json(), { Code: 'FORBIDDEN', Status: 'failed' })
  const missing = await app.inject({
    method: 'PUT', url: '/v1/products/a/b/c/availability', headers: { authorization: `Bearer ${admin}` }, payload: { Available: true }
  })
  t.equal(missing.statusCode, 404)
  t.match(missing.json(), { Code: 'NOT_FOUND' })
})

t.test('an availability switch on one intake is seen by another within 1 s', async (t) => {
  const one = await startIntake(t)
  const two = await startIntake(t, {}, one.prefix)
  const admin = tokenFor('ops', 'admin')
  const client = tokenFor('client-a')
  await one.app.inject({
    method: 'PUT', url: `/v1/products/${SANDBOX}/availability`, headers: { authorization: `Bearer ${admin}` }, payload: { Available: false }
  })
  // Intakes re-read the switches every 400 ms; the deadline leaves room for a busy machine.
  await waitFor('the other intake to see the switch', () => !two.app.availability.isAvailable(SANDBOX), 1500, 10)
  t.match((await postTicket(two.app, client, SEED_TICKET)).json(), { Code: 'PRODUCT_NOT_AVAILABLE' })
})

t.test("a product's input schema checks Data before anything is enqueued", async (t) => {
  const { app } = await startIntake(t)
  const res = await postTicket(app, tokenFor('c'), { ...SEED_TICKET, Data: { NIK: 12, Extra: true } })
  t.equal(res.statusCode, 400)
  t.match(res.json(), { Code: 'VALIDATION_ERROR' })
  const fields = (res.json() as { Data: { Errors: Array<{ Field: string }> } }).Data.Errors.map((e) => e.Field).sort()
  t.same(fields, ['/Data/Extra', '/Data/NIK'], 'each bad field named')
  t.equal(await waitingJobs(app.ticketQueues.queueFor(SANDBOX)), 0)
})

t.test('overload: a queue deeper than MAX_QUEUE_DEPTH answers 503 with Retry-After', async (t) => {
  const { app } = await startIntake(t, { MAX_QUEUE_DEPTH: '2' })
  const token = tokenFor('c')
  for (const id of ['d1', 'd2']) t.equal((await postTicket(app, token, { ...SEED_TICKET, TicketId: id })).statusCode, 202)
  await app.ticketQueues.refreshCounts()
  const res = await postTicket(app, token, { ...SEED_TICKET, TicketId: 'd3' })
  t.equal(res.statusCode, 503)
  t.equal(res.headers['retry-after'], '1')
  t.match(res.json(), { Code: 'UNAVAILABLE', Status: 'failed', StatusCode: 503 })
})

t.test('per-client rate limit: 429 RATE_LIMITED with Retry-After, other clients unaffected', async (t) => {
  const { app } = await startIntake(t, await rateLimitWithin(3))
  const a = tokenFor('noisy')
  const codes = []
  for (let i = 0; i < 5; i++) codes.push((await getTicket(app, a, `r${i}`)).statusCode)
  t.same(codes, [404, 404, 404, 429, 429])
  const limited = await getTicket(app, a, 'r9')
  t.match(limited.json(), { Code: 'RATE_LIMITED', StatusCode: 429 })
  t.ok(Number(limited.headers['retry-after']) >= 1, 'Retry-After says when')
  t.equal((await getTicket(app, tokenFor('quiet'), 'r1')).statusCode, 404, 'another client is not limited')
})

t.test('queue placement: one queue per product under a hash-tagged prefix', async (t) => {
  const { app, prefix } = await startIntake(t)
  const queue = app.ticketQueues.queueFor(SANDBOX)
  t.same({ name: queue?.name, prefix: queue?.opts.prefix }, redisKeys(prefix).productQueue(SANDBOX))
})
