import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseTicketEvent } from '@request-out/record-store'
import { allTicketEvents, redisKeys } from '@request-out/redis-keys'
import { uniquePrefix, waitFor, writeCatalog } from '@request-out/test-support'
import { ProductBreaker } from '@request-out/upstream-breaker'
import { getTicket, postTicket, startIntake, tokenFor } from './helpers.js'

const client = tokenFor('client-a')
const admin = tokenFor('ops', 'admin')
const BREAKER = { ConsecutiveFailures: 3, MinCalls: 100, WindowMs: 5000, OpenMs: 3000, MaxOpenMs: 6000 }
const product = (identifier: string, extra: Record<string, unknown> = {}) =>
  ({ Subject: 'test', SubjectType: 'guarded', SubjectIdentifier: identifier, Name: identifier, Kind: 'sandbox', Breaker: BREAKER, ...extra })
const REFUSE = 'test/guarded/refuse'
const QUEUE = 'test/guarded/queue'
const ticket = (key: string, TicketId: string) => {
  const [Subject, SubjectType, SubjectIdentifier] = key.split('/')
  return { TicketId, Subject, SubjectType, SubjectIdentifier }
}

t.test('an open breaker: new tickets get the seed\'s not-available envelope with Retry-After and the reason (refuse), or are queued (queue); tickets already accepted answer as before; half-open accepts again', async (t) => {
  const prefix = uniquePrefix('breaker')
  const catalog = writeCatalog([product('refuse'), product('queue', { WhenUpstreamDown: 'queue' }), product('off', { Breaker: false })])
  const { app } = await startIntake(t, { PRODUCTS_FILE: catalog }, prefix)
  // No worker runs: what a worker's failing tries would do to the shared breaker, done here.
  const worker = (key: string): ProductBreaker => new ProductBreaker(app.redis.producer, redisKeys(prefix), key, {
    windowMs: BREAKER.WindowMs, minCalls: BREAKER.MinCalls, failureRatio: 0.5, consecutiveFailures: BREAKER.ConsecutiveFailures, openMs: BREAKER.OpenMs, maxOpenMs: BREAKER.MaxOpenMs
  }, 5000, { seen: () => {}, transition: () => {}, unreachable: () => {} })
  const listed = async () => (await app.inject({ method: 'GET', url: '/v1/products', headers: { authorization: `Bearer ${client}` } })).json().Data.Products as Array<Record<string, unknown>>

  t.match(await listed(), [
    { Key: REFUSE, Available: true, Breaker: { State: 'closed', Since: null, LastFailure: null, NextProbeAt: null } },
    { Key: QUEUE, Breaker: { State: 'closed' } },
    { Key: 'test/guarded/off', Breaker: null }
  ], 'GET /v1/products shows each breaker (null: turned off)')
  t.equal((await postTicket(app, client, ticket(REFUSE, 'queued-before'))).statusCode, 202)
  const unknown = await postTicket(app, client, ticket('no/such/product', 'x-1'))

  const breaker = worker(REFUSE)
  for (let i = 0; i < 3; i++) breaker.count('failed')
  await breaker.sync()
  const openedAt = Date.now()
  let tries = 0
  // A new TicketId each time: one accepted before the intake saw the breaker would answer 202 again.
  await waitFor('the intake to see the breaker open', async () => (await postTicket(app, client, ticket(REFUSE, `race-${tries++}`))).statusCode === 404, 1500, 20)
  t.ok(Date.now() - openedAt < 1500, 'refused within the intake\'s refresh (at most 1 s)')

  const refused = await postTicket(app, client, ticket(REFUSE, 'new-while-open'))
  t.equal(refused.statusCode, 404)
  t.equal(refused.body, unknown.body, 'the seed\'s not-available envelope, byte for byte')
  const retryAfter = Number(refused.headers['retry-after'])
  t.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 4 + 1, `Retry-After ${retryAfter}: the time to the probe (3 s) plus jitter`)
  t.match(decodeURIComponent(String(refused.headers['product-unavailable-reason'])), /upstream is failing \(3 failures in a row\)/)
  const afters = new Set<string>()
  for (let i = 0; i < 20; i++) afters.add(String((await postTicket(app, client, ticket(REFUSE, `spread-${i}`))).headers['retry-after']))
  t.ok(afters.size >= 2, `refused clients are told different times (${[...afters].join(', ')})`)

  const again = await postTicket(app, client, ticket(REFUSE, 'queued-before'))
  t.equal(again.statusCode, 202, 'a re-POST of a ticket accepted before answers as without the breaker')
  t.match(again.json(), { TicketId: 'queued-before', StatusCode: 202 })
  t.match((await getTicket(app, client, 'queued-before')).json(), { Code: 'IN_PROCESS' }, 'GET of a waiting ticket stays IN_PROCESS')
  t.equal((await postTicket(app, client, { ...ticket(REFUSE, 'queued-before'), Data: { other: 1 } })).statusCode, 409, 'other fields still conflict')

  const q = worker(QUEUE)
  for (let i = 0; i < 3; i++) q.count('failed')
  await q.sync()
  await app.breakers.refresh()
  t.equal((await postTicket(app, client, ticket(QUEUE, 'held'))).statusCode, 202, 'WhenUpstreamDown "queue": accepted, to run once the upstream is back')

  const batch = await app.inject({
    method: 'POST',
    url: '/v1/request-out/batch',
    headers: { authorization: `Bearer ${client}` },
    payload: { Tickets: [ticket(REFUSE, 'b-1'), ticket(QUEUE, 'b-2'), ticket('test/guarded/off', 'b-3'), ticket(REFUSE, 'queued-before')] }
  })
  t.equal(batch.statusCode, 200)
  t.match(batch.json().Data.Results, [
    { TicketId: 'b-1', StatusCode: 404, Code: 'PRODUCT_NOT_AVAILABLE' },
    { TicketId: 'b-2', StatusCode: 202 },
    { TicketId: 'b-3', StatusCode: 202 },
    { TicketId: 'queued-before', StatusCode: 202 }
  ], 'a batch answers each ticket as a single POST would')
  const batchAfter = Number(batch.headers['retry-after'])
  t.ok(batchAfter >= 1 && batchAfter <= 5, `the batch carries Retry-After (${batchAfter} s, the soonest probe)`)

  const [view] = await listed()
  t.match(view, { Key: REFUSE, Available: true, Breaker: { State: 'open' } }, 'Available stays the admin switch')
  const b = view!.Breaker as { Since: string, LastFailure: string, NextProbeAt: string }
  t.ok(Date.parse(b.NextProbeAt) > Date.parse(b.Since) && Date.parse(b.LastFailure) > 0, 'with since when, the last failure and the next probe')
  const page = await app.inject({ method: 'GET', url: '/admin/products', headers: { cookie: `ro_admin_session=${admin}`, accept: 'text/html' } })
  t.match(page.body, /data-field="breaker">open/, 'the products page shows it')

  // The admin's switch still wins over a breaker that closes: off stays off.
  await app.inject({ method: 'PUT', url: `/v1/products/${QUEUE}/availability`, headers: { authorization: `Bearer ${admin}` }, payload: { Available: false, Reason: 'maintenance' } })
  t.match((await postTicket(app, client, ticket(QUEUE, 'switched-off'))).headers, { 'product-unavailable-reason': 'maintenance' })

  // Every automatic transition is audited by an intake, as `system`.
  const audits = await waitFor('the breaker openings to be audited', async () => {
    const rows: Array<Record<string, string>> = []
    for (const stream of allTicketEvents(redisKeys(prefix))) {
      for (const [id, flat] of await app.redis.producer.xrange(stream, '-', '+')) {
        const e = parseTicketEvent(id, flat)
        if (e?.type === 'audit' && e.fields.action?.startsWith('breaker.') === true) rows.push(e.fields as Record<string, string>)
      }
    }
    return rows.length >= 2 ? rows : undefined
  }, 3000)
  t.same(audits.map((a) => [a.actor, a.action, a.target]).sort(), [['system', 'breaker.open', QUEUE], ['system', 'breaker.open', REFUSE]])
  t.match(JSON.parse(audits[0]!.after ?? '{}'), { State: 'open', Reason: /failures in a row/, NextProbeAt: String })
  t.equal(await app.redis.producer.llen(redisKeys(prefix).breakerTransitions(REFUSE)), 0, 'audited transitions leave their queue')

  // Half-open from the probe time on: new tickets are accepted, so there is something to probe.
  const probeAt = Date.parse(b.NextProbeAt)
  await sleep(Math.max(0, probeAt - Date.now()) + 50)
  await app.breakers.refresh()
  t.match((await listed())[0], { Breaker: { State: 'half-open', NextProbeAt: null } })
  t.equal((await postTicket(app, client, ticket(REFUSE, 'after-probe-time'))).statusCode, 202, 'half-open accepts new tickets')
})
