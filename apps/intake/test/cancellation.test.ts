import t, { type Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import {
  TEST_REDIS_URL, json, spawnWorker, startUpstream, uniquePrefix, waitFor, writeCatalog
} from '@request-out/test-support'

import { SANDBOX, getTicket, postTicket, startIntake, tokenFor } from './helpers.js'
import { ticketKey } from '@request-out/redis-keys'

const HANG = 'digitalid/verification/hang'
const FLAKY = 'digitalid/verification/flaky'
const IDLE = 'digitalid/verification/idle'
const SLOW = 'digitalid/verification/slow'
const client = tokenFor('client-a')
const admin = tokenFor('ops', 'admin')

const product = (key: string) => {
  const [Subject, SubjectType, SubjectIdentifier] = key.split('/')
  return { Subject, SubjectType, SubjectIdentifier }
}
const ticketOf = (key: string, id: string) => ({ ...product(key), TicketId: id })

const cancel = async (app: FastifyInstance, id: string, headers: Record<string, string> = {}, token = client, query = '') =>
  await app.inject({ method: 'DELETE', url: `/v1/request-out/${id}${query}`, headers: { authorization: `Bearer ${token}`, ...headers } })

interface Setup {
  app: FastifyInstance
  prefix: string
  env: Record<string, string>
  /** Calls the hanging upstream has received, and when each one's connection closed. */
  hung: Array<{ ticketId: string, closedAt?: number }>
}

/** An intake and a worker (sandbox, a hanging upstream, a failing one) on a catalog of the test's own; IDLE has no worker. */
async function setup (t: Test, served = `${SANDBOX},${HANG},${FLAKY},${SLOW}`): Promise<Setup> {
  const hung: Setup['hung'] = []
  const hang = await startUpstream(t, (body, req) => {
    const call: Setup['hung'][number] = { ticketId: String(body.TicketId) }
    hung.push(call)
    req.socket.on('close', () => { call.closedAt = Date.now() })
  })
  const failing = await startUpstream(t, (_body, _req, res) => json(res, 503, { Message: 'down' }))
  const catalog = writeCatalog([
    { ...product(SANDBOX), Name: 'sandbox', Kind: 'sandbox', Sandbox: { LatencyMs: 5 } },
    { ...product(HANG), Name: 'hangs', Kind: 'http', Attempts: 1, TimeoutMs: 60_000, Http: { Url: hang.url } },
    { ...product(FLAKY), Name: 'fails', Kind: 'http', Attempts: 5, TimeoutMs: 2000, Backoff: { DelayMs: 60_000, Jitter: 0 }, Http: { Url: failing.url } },
    { ...product(IDLE), Name: 'nobody serves it', Kind: 'sandbox' },
    { ...product(SLOW), Name: 'slow sandbox', Kind: 'sandbox', Concurrency: 20, Sandbox: { LatencyMs: 30 } }
  ])
  const prefix = uniquePrefix('cancel')
  const env = { REDIS_URL: TEST_REDIS_URL, QUEUE_PREFIX: prefix, PRODUCTS_FILE: catalog }
  const { app } = await startIntake(t, { PRODUCTS_FILE: catalog }, prefix)
  const worker = await spawnWorker({ ...env, WORKER_PRODUCTS: served, WORKER_LOCK_DURATION_MS: '2000', WORKER_STALLED_INTERVAL_MS: '1000' })
  t.teardown(async () => { await worker.stop() })
  return { app, prefix, env, hung }
}

const recordEvents = async (app: FastifyInstance, id: string, clientId = 'client-a'): Promise<string[]> =>
  (await app.recordStore.eventsOf(clientId, id)).filter((e) => e.type === 'record').map((e) => e.fields.code ?? '')

t.test('cancel in each state: waiting, retrying, running on another process, final, unknown; then for good', async (t) => {
  const s = await setup(t)
  const { app } = s

  // Waiting (no worker serves the product): taken out of the queue at once.
  t.equal((await postTicket(app, client, ticketOf(IDLE, 'c-waiting'))).statusCode, 202)
  const asked = await cancel(app, 'c-waiting')
  t.equal(asked.statusCode, 202)
  t.match(asked.json(), { TicketId: 'c-waiting', Subject: 'digitalid', SubjectType: 'verification', SubjectIdentifier: 'idle', Status: 'success', Code: 'CANCELLING', Message: 'Cancellation requested', StatusCode: 202 })
  const gone = await getTicket(app, client, 'c-waiting')
  t.equal(gone.statusCode, 410)
  t.match(gone.json(), { TicketId: 'c-waiting', Subject: 'digitalid', Status: 'failed', Code: 'CANCELLED', StatusCode: 410 })
  t.equal(await app.ticketQueues.queueFor(IDLE)?.getJob(ticketKey('client-a', 'c-waiting')), undefined, 'its job is gone')
  t.match((await cancel(app, 'c-waiting')).json(), { Code: 'CANCELLED', StatusCode: 410 }, 'a repeated DELETE is safe: 410 again')
  const again = await postTicket(app, client, ticketOf(IDLE, 'c-waiting'))
  t.equal(again.statusCode, 410, 'the TicketId stays taken: re-POST answers 410')

  // Retrying: its first try failed, the job waits a minute in the delayed set.
  t.equal((await postTicket(app, client, ticketOf(FLAKY, 'c-retrying'))).statusCode, 202)
  const queue = app.ticketQueues.queueFor(FLAKY)
  await waitFor('the ticket to wait for its retry', async () => await (await queue?.getJob(ticketKey('client-a', 'c-retrying')))?.getState() === 'delayed', 15_000, 50)
  t.equal((await cancel(app, 'c-retrying')).statusCode, 202)
  t.match((await getTicket(app, client, 'c-retrying')).json(), { Code: 'CANCELLED' })
  t.equal(await queue?.getJob(ticketKey('client-a', 'c-retrying')), undefined, 'the delayed job is gone')

  // Running on the worker process: the request reaches it, the handler's upstream call is aborted.
  t.equal((await postTicket(app, client, ticketOf(HANG, 'c-running'))).statusCode, 202)
  await waitFor('the upstream to be called', () => s.hung.some((c) => c.ticketId === 'c-running'), 15_000, 20)
  const askedAt = Date.now()
  const waited = await cancel(app, 'c-running', { prefer: 'wait=10' })
  t.match(waited.json(), { Code: 'CANCELLED', StatusCode: 410 }, 'Prefer: wait answers as GET once final')
  t.equal(waited.statusCode, 410)
  const call = s.hung.find((c) => c.ticketId === 'c-running')
  await waitFor('the upstream connection to close', () => call?.closedAt !== undefined, 5000, 20)
  t.ok((call?.closedAt ?? Infinity) - askedAt < 1000, `the upstream call was aborted ${(call?.closedAt ?? 0) - askedAt} ms after the request`)

  // Final: its record stands; unknown: 404.
  t.equal((await postTicket(app, client, ticketOf(SANDBOX, 'c-done'), { prefer: 'wait=10' })).statusCode, 200)
  const late = await cancel(app, 'c-done')
  t.equal(late.statusCode, 409)
  t.match(late.json(), { TicketId: 'c-done', ResourceType: 'data', Code: 'TICKET_FINAL', Message: /SUCCESS/, StatusCode: 409 })
  t.match((await cancel(app, 'never-sent')).json(), { Code: 'NOT_FOUND', StatusCode: 404, Message: 'Request on process / not available now' })

  // Other clients cannot; an admin can, with ?ClientId=.
  t.equal((await postTicket(app, client, ticketOf(IDLE, 'c-admin'))).statusCode, 202)
  t.equal((await cancel(app, 'c-admin', {}, tokenFor('client-b'))).statusCode, 404, "another client's token finds no such ticket of its own")
  t.equal((await cancel(app, 'c-admin', {}, tokenFor('client-b'), '?ClientId=client-a')).statusCode, 403)
  t.equal((await cancel(app, 'c-admin', {}, admin, '?ClientId=client-a')).statusCode, 202)
  // Defects #25.10: audited once it happened, with the state before and after; a repeat or a refusal is not.
  t.equal((await cancel(app, 'c-admin', {}, admin, '?ClientId=client-a')).statusCode, 410, 'cancelled already')
  t.equal((await cancel(app, 'c-done', {}, admin, '?ClientId=client-a')).statusCode, 409, 'final already')
  const audits = async (id: string): Promise<Array<Record<string, string>>> => (await app.recordStore.eventsOf('client-a', id)).filter((e) => e.type === 'audit').map((e) => e.fields)
  t.match(await audits('c-admin'), [{ action: 'ticket.cancel', actor: 'ops', before: '{"Code":"IN_PROCESS"}', after: '{"Code":"CANCELLING"}' }])
  t.equal((await audits('c-admin')).length, 1, 'the repeated cancel is not audited')
  t.same(await audits('c-done'), [], 'nor the refused one')

  // A cancelled record is final for good: the dashboard refuses an operator's retry. (On a loaded
  // machine the running job's lock may lapse for a moment, and the intake removes the job itself:
  // then there is nothing left to retry.)
  const hangQueue = app.ticketQueues.queueFor(HANG)
  const jobId = ticketKey('client-a', 'c-running')
  await waitFor('the cancelled job to complete or be gone', async () => ['completed', 'unknown'].includes(await hangQueue?.getJobState(jobId) ?? 'unknown'), 10_000, 50)
  if (await hangQueue?.getJobState(jobId) === 'completed') {
    const retry = await app.inject({
      method: 'PUT',
      url: `/admin/queues/api/queues/${encodeURIComponent(HANG)}/${encodeURIComponent(jobId)}/retry`,
      headers: { cookie: `ro_admin_session=${admin}` }
    })
    t.equal(retry.statusCode, 409)
    t.match(retry.json(), { message: /CANCELLED/ })
  } else {
    t.comment('the cancelled job was removed by the intake (its lock had lapsed): nothing to retry')
  }
  for (const id of ['c-waiting', 'c-retrying', 'c-running']) t.same(await recordEvents(app, id), ['CANCELLED'], `${id}: one final record`)
})

t.test('races: cancel against completion, two cancels at once; exactly one final record each', async (t) => {
  const { app } = await setup(t)
  const ids = Array.from({ length: 40 }, (_, i) => `race-${i}`)
  // Which side wins a real race depends on the machine's speed, so each outcome is also forced
  // once: a ticket of a product nobody serves is surely cancelled, a ticket whose record was read
  // first surely completes. The others are cancelled (twice at once) somewhere between 0 and 60 ms
  // after their POST, against a 30 ms product.
  const forced = { cancelled: 'race-forced-cancelled', completed: 'race-forced-completed' }
  t.equal((await postTicket(app, client, ticketOf(IDLE, forced.cancelled))).statusCode, 202)
  t.equal((await postTicket(app, client, ticketOf(SLOW, forced.completed), { prefer: 'wait=10' })).statusCode, 200)
  await Promise.all([
    ...[forced.cancelled, forced.completed].map(async (id) => await Promise.all([cancel(app, id), cancel(app, id)])),
    ...ids.map(async (id, i) => {
      await postTicket(app, client, ticketOf(SLOW, id))
      await new Promise((resolve) => setTimeout(resolve, (i * 7) % 60))
      await Promise.all([cancel(app, id), cancel(app, id)])
    })
  ])
  const all = [...ids, forced.cancelled, forced.completed]
  await waitFor('every ticket final', async () =>
    (await Promise.all(all.map(async (id) => (await getTicket(app, client, id)).statusCode))).every((s) => s === 200 || s === 410), 20_000, 100)
  let cancelled = 0
  for (const id of all) {
    const records = await recordEvents(app, id)
    t.equal(records.length, 1, `${id}: one record (${records.join(', ')})`)
    const status = (await getTicket(app, client, id)).statusCode
    t.equal(status, records[0] === 'CANCELLED' ? 410 : 200, `${id}: GET answers that record`)
    if (records[0] === 'CANCELLED' && ids.includes(id)) cancelled++
  }
  t.same(await recordEvents(app, forced.cancelled), ['CANCELLED'], 'the cancel of a queued ticket wins')
  t.same(await recordEvents(app, forced.completed), ['SUCCESS'], 'a cancel after the record changes nothing')
  t.comment(`the race itself: ${cancelled} of ${ids.length} cancelled before the product finished`)
})

t.test('a worker killed mid-job: the job taken over checks for the cancellation and does not run', async (t) => {
  // Only the lone worker serves HANG: it holds the job when it dies, and nobody hears the cancellation.
  const s = await setup(t, `${SANDBOX},${FLAKY}`)
  const { app } = s
  const workerEnv = { ...s.env, WORKER_PRODUCTS: HANG, WORKER_LOCK_DURATION_MS: '2000', WORKER_STALLED_INTERVAL_MS: '1000' }
  const lone = await spawnWorker(workerEnv)
  t.teardown(async () => { await lone.stop() })
  t.equal((await postTicket(app, client, ticketOf(HANG, 'c-killed'))).statusCode, 202)
  await waitFor('the upstream to be called', () => s.hung.some((c) => c.ticketId === 'c-killed'), 15_000, 20)
  await lone.stop('SIGKILL')
  t.equal((await cancel(app, 'c-killed')).statusCode, 202, 'asked while its job is still locked by the dead worker')
  t.equal((await getTicket(app, client, 'c-killed')).statusCode, 404, 'still in process: nobody has stopped it yet')
  const fresh = await spawnWorker(workerEnv)
  t.teardown(async () => { await fresh.stop() })
  await waitFor('the cancelled record', async () => (await getTicket(app, client, 'c-killed')).statusCode === 410, 30_000, 100)
  t.equal(s.hung.filter((c) => c.ticketId === 'c-killed').length, 1, 'the upstream was not called again')
  t.same(await recordEvents(app, 'c-killed'), ['CANCELLED'])
})

t.test('bulk cancel by product, client and state, with a dry run first', async (t) => {
  const { app } = await setup(t)
  for (let i = 0; i < 5; i++) t.equal((await postTicket(app, client, ticketOf(IDLE, `bulk-a-${i}`))).statusCode, 202)
  for (let i = 0; i < 3; i++) t.equal((await postTicket(app, tokenFor('client-b'), ticketOf(IDLE, `bulk-b-${i}`))).statusCode, 202)
  const bulk = async (body: Record<string, unknown>) =>
    await app.inject({ method: 'POST', url: '/v1/admin/cancellations', headers: { authorization: `Bearer ${admin}` }, payload: body })
  t.match((await bulk({ Product: IDLE, ClientId: 'client-a' })).json(), { Data: { DryRun: true, Matched: 5, Cancelled: 0 } }, 'a dry run by default')
  t.match((await getTicket(app, client, 'bulk-a-0')).json(), { Code: 'IN_PROCESS' }, 'nothing cancelled by the dry run')
  t.match((await bulk({ Product: IDLE, ClientId: 'client-a', State: 'waiting', DryRun: false })).json(), { Data: { DryRun: false, Matched: 5, Cancelled: 5 } })
  for (let i = 0; i < 5; i++) t.equal((await getTicket(app, client, `bulk-a-${i}`)).statusCode, 410)
  t.match((await getTicket(app, tokenFor('client-b'), 'bulk-b-0')).json(), { Code: 'IN_PROCESS' }, "the other client's tickets stay")
  t.match((await bulk({ Product: IDLE })).json(), { Data: { Matched: 3 } })
  t.equal((await bulk({ Product: IDLE, State: 'done' })).statusCode, 400)
  t.equal((await app.inject({ method: 'POST', url: '/v1/admin/cancellations', headers: { authorization: `Bearer ${client}` }, payload: {} })).statusCode, 403)
})
