import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { completedEnvelope } from '@request-out/contracts'
import { migrateHistory } from '@request-out/history'
import { parseTicketEvent } from '@request-out/record-store'
import { allTicketEvents, redisKeys, ticketKey } from '@request-out/redis-keys'
import { createTestDatabase, uniquePrefix } from '@request-out/test-support'
import { SANDBOX, SEED_TICKET, startIntake, tokenFor } from './helpers.js'

const admin = tokenFor('ops', 'admin')

/** Every audit entry the intake appended, oldest first, as the audit trail will store it. */
async function auditRows (app: FastifyInstance, prefix: string): Promise<Array<Record<string, unknown>>> {
  const rows: Array<{ id: string, row: Record<string, unknown> }> = []
  for (const stream of allTicketEvents(redisKeys(prefix))) {
    for (const [id, flat] of await app.redis.producer.xrange(stream, '-', '+')) {
      const e = parseTicketEvent(id, flat)
      if (e?.type !== 'audit') continue
      const { actor, address, action, target, before, after } = e.fields
      rows.push({ id, row: { actor, address, action, target, clientId: e.clientId, ticketId: e.ticketId, before: JSON.parse(before ?? 'null'), after: JSON.parse(after ?? 'null') } })
    }
  }
  return rows.sort((a, b) => a.id.localeCompare(b.id, 'en', { numeric: true })).map((r) => r.row)
}

t.test('each operator action writes the same audit row through /v1 and through the page; a refused one writes none', async (t) => {
  const db = await createTestDatabase()
  t.teardown(db.drop)
  await migrateHistory(db.url)
  const prefix = uniquePrefix('operator')
  const { app } = await startIntake(t, { DATABASE_URL: db.url, WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true' }, prefix)
  const api = async (method: 'PUT' | 'POST' | 'DELETE', url: string, payload?: object): Promise<number> =>
    (await app.inject({ method, url, headers: { authorization: `Bearer ${admin}` }, ...(payload === undefined ? {} : { payload }) })).statusCode
  // The pages' session and their form token, as a browser holds them.
  const session = `ro_admin_session=${admin}`
  const page = await app.inject({ method: 'GET', url: '/admin/products', headers: { cookie: session, accept: 'text/html' } })
  const csrf = /name="csrf" value="([^"]+)"/.exec(page.body)?.[1] ?? ''
  const csrfSecret = String(page.headers['set-cookie']).split(';')[0] ?? ''
  const form = async (url: string, fields: Record<string, string> = {}): Promise<number> => (await app.inject({
    method: 'POST',
    url,
    headers: { cookie: `${session}; ${csrfSecret}`, 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ csrf, ...fields }).toString()
  })).statusCode
  const newRows = async (since: number): Promise<Array<Record<string, unknown>>> => (await auditRows(app, prefix)).slice(since)
  const count = async (): Promise<number> => (await auditRows(app, prefix)).length
  const sameAddress = (rows: Array<Record<string, unknown>>): Array<Record<string, unknown>> => rows.map((r) => ({ ...r, address: 'x' }))

  // The product switch (off through each door, with the product on before each).
  const productUrl = `/v1/products/${SANDBOX}/availability`
  let n = await count()
  t.equal(await api('PUT', productUrl, { Available: false, Reason: 'maintenance' }), 200)
  t.equal(await api('PUT', productUrl, { Available: true }), 200)
  t.equal(await form('/admin/products/availability', { Key: SANDBOX, Available: 'false', Reason: 'maintenance' }), 303)
  const switches = await newRows(n)
  t.equal(switches.length, 3)
  const strip = (r: Record<string, unknown> | undefined): Record<string, unknown> => ({ ...r, address: 'x', before: (r?.before as { Available?: boolean } | null)?.Available })
  t.same(strip(switches[2]), strip(switches[0]), 'availability.set: the same row from the page as from the API')
  t.match(switches[0], { actor: 'ops', action: 'availability.set', target: SANDBOX, after: { Available: false, Reason: 'maintenance' } })

  // A webhook re-send of the client's last event.
  t.equal((await app.inject({ method: 'PUT', url: '/v1/webhook', headers: { authorization: `Bearer ${tokenFor('client-a')}` }, payload: { Url: 'http://127.0.0.1:9/hooks' } })).statusCode, 201)
  await app.webhooks.state.freeze(ticketKey('client-a', 'wh-1'), { webhookId: 'msg_1_1_0', type: 'ticket.completed', timestamp: 1, body: '{}' })
  n = await count()
  t.equal(await api('POST', '/v1/request-out/wh-1/deliveries?ClientId=client-a'), 202)
  t.equal(await form('/admin/tickets/client-a/wh-1/resend'), 303)
  const resends = sameAddress(await newRows(n))
  t.equal(resends.length, 2)
  t.same(resends[1], resends[0], 'webhook.resend: the same row from the page as from the API')
  t.match(resends[0], { action: 'webhook.resend', target: 'webhook:client-a', after: { TicketId: 'wh-1' } }, "the API's row")

  // A cancellation of a ticket still under way (one through each door).
  for (const id of ['c-api', 'c-page']) await app.recordStore.claim('client-a', id, 'fp', SANDBOX)
  n = await count()
  t.equal(await api('DELETE', '/v1/request-out/c-api?ClientId=client-a'), 202)
  t.equal(await form('/admin/tickets/client-a/c-page/cancel'), 303)
  const cancels = sameAddress(await newRows(n))
  t.equal(cancels.length, 2)
  t.same({ ...cancels[1], target: '', ticketId: '' }, { ...cancels[0], target: '', ticketId: '' }, 'ticket.cancel: the same row but for the ticket')
  t.match(cancels[0], { action: 'ticket.cancel', target: 'client-a/c-api', ticketId: 'c-api', before: { Code: 'IN_PROCESS' }, after: { Code: 'CANCELLING' } })
  n = await count()
  t.equal(await api('DELETE', '/v1/request-out/c-api?ClientId=client-a'), 410, 'cancelled already: answered, not done again')
  t.equal(await count(), n, 'a cancel that changed nothing is not audited')

  // An erasure (the same ticket twice: the second finds the erased record and erases it again).
  await app.recordStore.claim('client-a', 'er-1', 'fp', SANDBOX)
  await app.recordStore.writeRecord('client-a', 'er-1', completedEnvelope({ ...SEED_TICKET, TicketId: 'er-1' }, { ResourceType: 'data', Resource: 'nik', ResourceId: '1', Data: { NIK: '3201015508900001' } }))
  n = await count()
  t.equal(await api('DELETE', '/v1/admin/tickets/client-a/er-1/personal-data'), 200)
  t.equal(await form('/admin/tickets/client-a/er-1/erase'), 303)
  const erasures = sameAddress(await newRows(n))
  t.equal(erasures.length, 2)
  t.same(erasures[1], erasures[0], 'personal-data.erase: the same row from the page as from the API')
  n = await count()
  t.equal(await api('DELETE', '/v1/admin/tickets/client-a/never-sent/personal-data'), 404)
  t.equal(await count(), n, 'an erasure refused (nothing stored) is not audited')

  // Refused webhook writes for a client without an endpoint: answered, not audited.
  n = await count()
  t.equal(await api('DELETE', '/v1/webhook?ClientId=nobody'), 404)
  t.equal(await api('POST', '/v1/webhook/rotate?ClientId=nobody'), 404)
  t.equal(await count(), n, 'a refused webhook removal or rotation is not audited')

  // The audit search takes the closed vocabulary only.
  t.equal((await app.inject({ method: 'GET', url: '/v1/admin/audit?Action=ticket.cancel', headers: { authorization: `Bearer ${admin}` } })).statusCode, 200)
  t.equal((await app.inject({ method: 'GET', url: '/v1/admin/audit?Action=made.up', headers: { authorization: `Bearer ${admin}` } })).statusCode, 400)

  // A dashboard write that is not one of the named ones is refused, and not audited.
  n = await count()
  const delayed = await app.inject({
    method: 'PATCH',
    url: `/admin/queues/api/queues/${encodeURIComponent(SANDBOX)}/${encodeURIComponent(ticketKey('client-a', 'c-page'))}/delay`,
    headers: { cookie: session },
    payload: { delay: 60_000 }
  })
  t.equal(delayed.statusCode, 403, 'a dashboard write outside the closed list (a job\'s delay)')
  t.match(delayed.json(), { message: /not one Request Out allows/ })
  t.equal(await count(), n)
})
