import t, { type Test } from 'tap'
import type { AddressInfo } from 'node:net'
import { openEventStream, waitFor } from '@request-out/test-support'
import { trimEventStreams } from '@request-out/record-store'
import { SANDBOX, SEED_TICKET, startIntake, tokenFor } from './helpers.js'

const clientA = tokenFor('client-a')
const clientB = tokenFor('client-b')
const admin = tokenFor('ops', 'admin')
const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` })

/** The intake in this process, listening on loopback: event streams need real HTTP. */
async function listening (t: Test, env: Record<string, string> = {}) {
  const started = await startIntake(t, env)
  await started.app.listen({ port: 0, host: '127.0.0.1' })
  const base = `http://127.0.0.1:${(started.app.server.address() as AddressInfo).port}`
  const post = async (token: string, ticketId: string): Promise<number> =>
    (await started.app.inject({ method: 'POST', url: '/v1/request-out', headers: bearer(token), payload: { ...SEED_TICKET, TicketId: ticketId } })).statusCode
  return { ...started, base, post }
}

interface EventData { Id: string, Type: string, TicketId: string, Product: string, At: string, Code?: string, Attempt?: number }
const dataOf = (e: { data: string } | undefined): EventData => JSON.parse(e?.data ?? '{}') as EventData

t.test('GET /v1/events: a client sees its own tickets\' events and never another\'s; the cursor resumes it, filters apply', async (t) => {
  const { base, post } = await listening(t)
  const a = await openEventStream(`${base}/v1/events`, bearer(clientA))
  const b = await openEventStream(`${base}/v1/events`, bearer(clientB))
  t.teardown(() => { a.close(); b.close() })
  t.equal(a.status, 200)
  t.match(a.headers.get('content-type'), /^text\/event-stream/)
  t.equal(a.headers.get('cache-control'), 'no-store')
  t.equal(a.headers.get('x-accel-buffering'), 'no')
  t.equal(await post(clientA, 'a-1'), 202)
  t.equal(await post(clientB, 'b-1'), 202)
  t.equal(await post(clientA, 'a-2'), 202)
  const first = await a.next()
  const second = await a.next()
  t.same([dataOf(first).TicketId, dataOf(second).TicketId], ['a-1', 'a-2'], 'client A sees its two tickets, in order')
  t.equal(first?.event, 'accepted', 'event: is the type')
  t.match(dataOf(first), { Type: 'accepted', Product: SANDBOX, At: /^\d{4}-/, Id: /^msg_\d+_\d+_\d+$/ })
  t.notOk(Object.keys(dataOf(first)).some((k) => !['Id', 'Type', 'TicketId', 'Product', 'At', 'Attempt', 'Code'].includes(k)), 'nothing but the event\'s fields')
  t.ok((first?.id ?? '').length <= 1024, 'the cursor is at most 1 KB')
  t.not(first?.id, dataOf(first).Id, 'the frame\'s id is the cursor; the event\'s own id is data.Id')
  const seenByB = await b.next()
  t.equal(dataOf(seenByB).TicketId, 'b-1', 'client B sees its ticket')
  await new Promise((resolve) => setTimeout(resolve, 300))
  t.equal(await b.next(50).catch(() => undefined), undefined, 'and nothing of client A\'s')

  // Resumed after the first event: the second (and what came since), not the first again.
  t.equal(await post(clientA, 'a-3'), 202)
  const resumed = await openEventStream(`${base}/v1/events`, { ...bearer(clientA), 'last-event-id': first?.id ?? '' })
  t.teardown(() => resumed.close())
  t.same([dataOf(await resumed.next()).TicketId, dataOf(await resumed.next()).TicketId], ['a-2', 'a-3'], 'Last-Event-ID resumes after that event, nothing missed or repeated')
  const bad = await openEventStream(`${base}/v1/events`, { ...bearer(clientA), 'last-event-id': 'not-a-cursor' })
  t.equal(bad.status, 400, 'a cursor no intake wrote is a 400')
  t.match(JSON.parse(bad.text), { Code: 'VALIDATION_ERROR' })

  const filtered = await openEventStream(`${base}/v1/events?Type=record&Product=${encodeURIComponent(SANDBOX)}`, bearer(clientA))
  t.teardown(() => filtered.close())
  t.equal(await post(clientA, 'a-4'), 202)
  t.equal(await filtered.next(500).catch(() => undefined), undefined, 'Type=record: no accepted event comes through')
  t.equal((await openEventStream(`${base}/v1/events?Type=bogus`, bearer(clientA))).status, 400, 'an unknown type is a 400')
  t.equal((await openEventStream(`${base}/v1/events`)).status, 401, 'no token: 401')
})

t.test('a ticket\'s stream: its events so far, then 204 once its record was seen; 404 as GET for an unknown ticket; resync past retention', async (t) => {
  const { base, post, app, prefix } = await listening(t)
  t.equal(await post(clientA, 'one'), 202)
  const s = await openEventStream(`${base}/v1/request-out/one/events`, bearer(clientA))
  t.teardown(() => s.close())
  const accepted = await s.next()
  t.match(dataOf(accepted), { Type: 'accepted', TicketId: 'one', Product: SANDBOX })
  t.equal(accepted?.id, dataOf(accepted).Id, 'the frame\'s id is the event\'s id')
  t.same(s.retries, [2000], 'retry: advice first')
  // Its record lands (written here as a worker would): the stream sends it and ends.
  await app.recordStore.writeRecord('client-a', 'one', { ...SEED_TICKET, TicketId: 'one', Action: 'create', ResourceType: 'x', Resource: 'x', ResourceId: '1', Data: null, Status: 'success', Message: 'ok', StatusCode: 200, Code: 'SUCCESS' })
  const record = await s.next()
  t.match(dataOf(record), { Type: 'record', Code: 'SUCCESS', Attempt: 1 })
  t.equal(await s.next(), undefined, 'the stream ends after the record')

  const again = await openEventStream(`${base}/v1/request-out/one/events`, { ...bearer(clientA), 'last-event-id': record?.id ?? '' })
  t.equal(again.status, 204, 'resumed after its record: 204, EventSource stops reconnecting')
  const whole = await openEventStream(`${base}/v1/request-out/one/events`, bearer(clientA))
  t.same((await whole.rest()).map((e) => e.event), ['accepted', 'record'], 'opened afresh: the whole story, then the end')
  // A redrive after a PRODUCT_FAILED record: a stream opened after the new record tells all of it.
  t.equal(await post(clientA, 'twice'), 202)
  const failed = { ...SEED_TICKET, TicketId: 'twice', Action: '', ResourceType: '', Resource: '', ResourceId: '', Data: null, Status: 'failed' as const, Message: 'no answer', StatusCode: 502, Code: 'PRODUCT_FAILED' }
  await app.recordStore.writeRecord('client-a', 'twice', failed)
  const state = await app.recordStore.eventsState('client-a', 'twice')
  t.equal(await app.recordStore.reopenForRedrive('client-a', 'twice', state?.acceptedAt ?? 0, 'r-1'), 'reopened')
  await app.recordStore.writeRecord('client-a', 'twice', { ...failed, Status: 'success' as const, Message: 'ok', StatusCode: 200, Code: 'SUCCESS' })
  const story = await (await openEventStream(`${base}/v1/request-out/twice/events`, bearer(clientA))).rest()
  t.same(story.map((e) => `${e.event}${e.event === 'record' ? ` ${dataOf(e).Code ?? ''}` : ''}`), ['accepted', 'record PRODUCT_FAILED', 'redriven', 'record SUCCESS'],
    'the whole story, to the newest record: the first record does not end it')

  const unknown = await openEventStream(`${base}/v1/request-out/nobody/events`, bearer(clientA))
  t.equal(unknown.status, 404)
  t.match(JSON.parse(unknown.text), { Code: 'NOT_FOUND', StatusCode: 404 }, 'the seed\'s envelope, as GET answers')
  t.equal((await openEventStream(`${base}/v1/request-out/one/events`, bearer(clientB))).status, 404, 'another client\'s ticket is not found')

  t.equal((await openEventStream(`${base}/v1/request-out/one/events?ClientId=client-a`, bearer(clientB))).status, 403, 'only admins read another client\'s')
  const asAdmin = await openEventStream(`${base}/v1/request-out/one/events?ClientId=client-a`, bearer(admin))
  t.same((await asAdmin.rest()).map((e) => e.event), ['accepted', 'record'], 'an admin reads it with ClientId')
  // Past what the streams keep, with no history to fill the gap: one resync, then the end.
  await trimEventStreams(app.redis.producer, prefix, { unconsumedMs: 0, keepMs: 0 })
  const gone = await openEventStream(`${base}/v1/request-out/one/events`, bearer(clientA))
  t.equal(gone.status, 200, 'a 200 (EventSource cannot read another status)')
  const resync = await gone.rest()
  t.same(resync.map((e) => e.event), ['resync'])
  t.match(JSON.parse(resync[0]?.data ?? '{}'), { Type: 'resync', TicketId: 'one', Message: /GET/ })
})

t.test('stream tokens: one ticket\'s, read-only; no other route takes them; a revoked user\'s streams close', async (t) => {
  const { base, post, app } = await listening(t)
  t.equal(await post(clientA, 'mine'), 202)
  t.equal(await post(clientA, 'other'), 202)
  const asked = await app.inject({ method: 'POST', url: '/v1/stream-tokens', headers: bearer(clientA), payload: { TicketId: 'mine' } })
  t.equal(asked.statusCode, 200)
  const { StreamToken, ExpiresIn } = (asked.json() as { Data: { StreamToken: string, ExpiresIn: number } }).Data
  t.ok(ExpiresIn > 0 && ExpiresIn <= 300, 'it lives STREAM_TOKEN_TTL_SECONDS at most, never longer than the token that asked')
  const byToken = await openEventStream(`${base}/v1/request-out/mine/events?stream_token=${StreamToken}`)
  t.teardown(() => byToken.close())
  t.equal(byToken.status, 200)
  t.equal(dataOf(await byToken.next()).TicketId, 'mine', 'the token reads its ticket')
  t.equal((await openEventStream(`${base}/v1/request-out/other/events?stream_token=${StreamToken}`)).status, 403, 'not another ticket')
  t.equal((await openEventStream(`${base}/v1/events?stream_token=${StreamToken}`)).status, 403, 'not every event of the client')
  t.equal((await app.inject({ method: 'GET', url: '/v1/request-out/mine', headers: bearer(StreamToken) })).statusCode, 401, 'no other route takes it as a Bearer token')
  t.equal((await app.inject({ method: 'GET', url: `/v1/request-out/mine?stream_token=${StreamToken}` })).statusCode, 401, 'nor in the query')
  t.equal((await app.inject({ method: 'POST', url: '/v1/stream-tokens', headers: bearer(StreamToken), payload: {} })).statusCode, 401, 'nor to make another')
  t.equal((await openEventStream(`${base}/v1/request-out/mine/events?stream_token=${StreamToken}x`)).status, 401, 'a tampered token is refused')
  const forOthers = await app.inject({ method: 'POST', url: '/v1/stream-tokens', headers: bearer(clientA), payload: { ClientId: 'client-b' } })
  t.equal(forOthers.statusCode, 403, 'only admins ask for another client\'s')

  const all = (await app.inject({ method: 'POST', url: '/v1/stream-tokens', headers: bearer(clientA), payload: {} })).json() as { Data: { StreamToken: string } }
  const everything = await openEventStream(`${base}/v1/events?stream_token=${all.Data.StreamToken}`)
  t.equal(everything.status, 200, 'a token without TicketId reads the client\'s events')
  const bearerStream = await openEventStream(`${base}/v1/events`, bearer(clientA))
  t.equal(bearerStream.status, 200)
  // An admin revokes client-a: every stream it holds closes within the sweep.
  t.equal((await app.inject({ method: 'POST', url: '/v1/admin/revocations', headers: bearer(admin), payload: { Username: 'client-a' } })).statusCode, 200)
  await Promise.all([byToken.ended, everything.ended, bearerStream.ended].map(async (ended) => await Promise.race([ended, new Promise((_resolve, reject) => setTimeout(() => reject(new Error('still open')), 5000))])))
  t.pass('the revoked user\'s streams closed')
  await waitFor('the drop to be counted', async () => (await app.metrics.registry.getSingleMetricAsString('request_out_sse_dropped_total')).includes('reason="revoked"} 3'), 3000)
})

t.test('limits: SSE_MAX_STREAMS_PER_CLIENT over intakes (429), SSE_MAX_STREAMS per intake (503 with Retry-After); a stop ends every stream with a retry hint', async (t) => {
  const { base, post, app, prefix } = await listening(t, { SSE_MAX_STREAMS_PER_CLIENT: '2', SSE_MAX_STREAMS: '2' })
  t.equal(await post(clientA, 'lim'), 202)
  const s1 = await openEventStream(`${base}/v1/events`, bearer(clientA))
  const s2 = await openEventStream(`${base}/v1/request-out/lim/events`, bearer(clientA))
  t.same([s1.status, s2.status], [200, 200])
  // The second intake shares the client's leases.
  const other = await startIntake(t, { SSE_MAX_STREAMS_PER_CLIENT: '2' }, prefix)
  await other.app.listen({ port: 0, host: '127.0.0.1' })
  const otherBase = `http://127.0.0.1:${(other.app.server.address() as AddressInfo).port}`
  const third = await openEventStream(`${otherBase}/v1/events`, bearer(clientA))
  t.equal(third.status, 429, 'a third stream of the client, on another intake: 429')
  t.match(JSON.parse(third.text), { Code: 'RATE_LIMITED' })
  s2.close()
  await waitFor('the slot to be given back', async () => (await openEventStream(`${otherBase}/v1/events`, bearer(clientA)).then((s) => { if (s.status === 200) s.close(); return s.status })) === 200, 5000, 100)
  const b1 = await openEventStream(`${base}/v1/events`, bearer(clientB))
  const b2 = await openEventStream(`${base}/v1/events`, bearer(clientB))
  t.equal(b1.status, 200)
  t.equal(b2.status, 503, 'past SSE_MAX_STREAMS on this intake: 503')
  t.equal(b2.headers.get('retry-after'), '5')
  const metrics = await app.metrics.registry.getSingleMetricAsString('request_out_sse_streams')
  t.match(metrics, /request_out_sse_streams\{route="client"\} 2/)
  await app.close()
  await Promise.all([s1.ended, b1.ended])
  t.same(s1.retries, [2000, 2000], 'the stop ended the stream after a retry: hint')
})
