import t from 'tap'
import { waitFor } from '@request-out/test-support'
import { SEED_TICKET, postTicket, startIntake, tokenFor } from './helpers.js'

t.test('health, metrics, OpenAPI and Swagger UI', async (t) => {
  const { app } = await startIntake(t)
  t.same((await app.inject({ method: 'GET', url: '/health/live' })).json(), { Status: 'ok', Checks: { process: true } })
  // Ready once the record notifications are subscribed too.
  const ready = await waitFor('the intake to be ready', async () => {
    const res = await app.inject({ method: 'GET', url: '/health/ready' })
    return res.statusCode === 200 ? res : undefined
  }, 5000)
  t.equal(ready.statusCode, 200)
  t.same(ready.json(), { Status: 'ok', Checks: { redis: true, catalog: true, notifications: true } })

  await postTicket(app, tokenFor('c'), SEED_TICKET)
  await postTicket(app, tokenFor('c'), { ...SEED_TICKET, SubjectIdentifier: 'nope' })
  await app.ticketQueues.refreshCounts()
  const metrics = await app.inject({ method: 'GET', url: '/metrics' })
  t.equal(metrics.statusCode, 200)
  t.match(metrics.headers['content-type'], /text\/plain/)
  t.match(metrics.body, /http_request_duration_seconds_bucket\{.*route="\/v1\/request-out".*status_code="202"/)
  t.match(metrics.body, /request_out_tickets_total\{product="digitalid\/enrollment\/ektp",outcome="accepted"\} 1/)
  t.match(metrics.body, /request_out_tickets_total\{product="unknown",outcome="PRODUCT_NOT_AVAILABLE"\} 1/)
  // Fair-shared products wait in BullMQ's prioritized set.
  t.match(metrics.body, /request_out_queue_jobs\{product="digitalid\/enrollment\/ektp",state="prioritized"\} 1/)
  t.match(metrics.body, /process_resident_memory_bytes/)

  const spec = (await app.inject({ method: 'GET', url: '/docs/json' })).json() as {
    openapi: string
    paths: Record<string, Record<string, { responses: Record<string, unknown> }>>
  }
  t.match(spec.openapi, /^3\./)
  const post = spec.paths['/v1/request-out']?.post
  t.same(Object.keys(post?.responses ?? {}).sort(), ['200', '202', '400', '401', '403', '404', '409', '410', '413', '415', '422', '429', '500', '502', '503'],
    'POST documents every response code')
  t.ok(spec.paths['/v1/request-out/{TicketId}']?.get, 'GET documented')
  t.ok(spec.paths['/v1/auth/login']?.post, 'login documented')
  t.ok(spec.paths['/v1/products/{Subject}/{SubjectType}/{SubjectIdentifier}/availability']?.put, 'availability documented')
  const ui = await app.inject({ method: 'GET', url: '/docs/' })
  t.equal(ui.statusCode, 200)
  t.match(ui.body, /swagger/i)
})

t.test('with METRICS_PORT, /metrics leaves the API port for a listener of its own', async (t) => {
  const { freePort } = await import('@request-out/test-support')
  const port = await freePort()
  const { app } = await startIntake(t, { METRICS_PORT: String(port) })
  t.equal((await app.inject({ method: 'GET', url: '/metrics' })).statusCode, 404, 'not on the API port')
  const res = await fetch(`http://127.0.0.1:${port}/metrics`)
  t.equal(res.status, 200)
  t.match(await res.text(), /http_request_duration_seconds/)
  t.equal((await fetch(`http://127.0.0.1:${port}/v1/products`)).status, 404, 'and nothing but metrics there')
})

t.test('a corrupt availability switch in Redis does not stop the refresh of the others', async (t) => {
  const lines: Array<Record<string, unknown>> = []
  const { app, prefix } = await startIntake(t, {}, undefined, { logLines: lines })
  const { Redis } = await import('ioredis')
  const redis = new Redis(app.config.env.REDIS_URL)
  t.teardown(() => redis.disconnect())
  await redis.hset(`${prefix}:availability`, 'digitalid/enrollment/ektp', '{not json', 'other/product/key', JSON.stringify({ Available: false, UpdatedAt: new Date().toISOString(), UpdatedBy: 'ops' }))
  await app.availability.refresh()
  await app.availability.refresh()
  t.equal(app.availability.isAvailable('digitalid/enrollment/ektp'), true, 'the corrupt entry keeps its last good value')
  t.match(app.availability.get('other/product/key'), { Available: false, UpdatedBy: 'ops' }, 'the good entry is read')
  t.equal(lines.filter((l) => /not valid/.test(String(l.msg))).length, 1, `reported once, at warn: ${JSON.stringify(lines.map((l) => l.msg))}`)
  const off = await app.inject({ method: 'PUT', url: '/v1/products/digitalid/enrollment/ektp/availability', headers: { authorization: `Bearer ${tokenFor('ops', 'admin')}` }, payload: { Available: false } })
  t.equal(off.statusCode, 200)
  await app.availability.refresh()
  t.equal(app.availability.isAvailable('digitalid/enrollment/ektp'), false, 'a new switch replaces the corrupt one')
})
