import t, { type Test } from 'tap'
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'
import { Webhook } from 'standardwebhooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import { redisKeys } from '@request-out/redis-keys'
import { TEST_REDIS_URL, freePort, spawnWorker, uniquePrefix, waitFor, type AppProcess } from '@request-out/test-support'
import { SEED_TICKET, getTicket, postTicket, rateLimitWithin, startIntake, tokenFor } from './helpers.js'

interface Received { headers: IncomingHttpHeaders, body: string, at: number }
type Mode = 'ok' | 'fail' | 'gone' | 'slow' | 'hold' | 'paced'

/** A real receiver on loopback: records every delivery and the most it held open at once; answers as `mode` says ('hold': never; 'paced': after 40 ms). */
async function receiver (t: Test, port?: number): Promise<{ url: string, port: number, got: Received[], mode: { value: Mode }, maxOpen: () => number, close: () => Promise<void>, reopen: () => Promise<void> }> {
  const got: Received[] = []
  const mode = { value: 'ok' as Mode }
  let server: Server
  let open_ = 0
  let maxOpen = 0
  const open = async (p: number): Promise<number> => {
    server = createServer((req, res) => {
      open_++
      maxOpen = Math.max(maxOpen, open_)
      res.once('close', () => { open_-- })
      let body = ''
      req.on('data', (c: Buffer) => { body += c.toString() })
      req.on('end', () => {
        got.push({ headers: req.headers, body, at: Date.now() })
        const answer = (): void => {
          if (mode.value === 'fail') res.writeHead(500).end('{"Message":"not now"}')
          else if (mode.value === 'gone') res.writeHead(410).end()
          else res.writeHead(204).end()
        }
        if (mode.value === 'slow') setTimeout(() => { mode.value = 'ok'; answer() }, 3000)
        else if (mode.value === 'paced') setTimeout(answer, 40)
        else if (mode.value !== 'hold') answer()
      })
    })
    await new Promise<void>((resolve) => server.listen(p, '127.0.0.1', () => resolve()))
    return (server.address() as AddressInfo).port
  }
  const chosen = await open(port ?? 0)
  const close = async (): Promise<void> => {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  }
  t.teardown(close)
  return { url: `http://127.0.0.1:${chosen}/hooks`, port: chosen, got, mode, maxOpen: () => maxOpen, close, reopen: async () => { await open(chosen) } }
}

const client = tokenFor('client-a')
const auth = { authorization: `Bearer ${client}` }
const ENV = { WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true', WEBHOOK_RETRY_SCHEDULE: '1,1,1,1,1,1,1,1' }

async function setup (t: Test): Promise<{ app: FastifyInstance, workerEnv: Record<string, string>, worker: AppProcess }> {
  const prefix = uniquePrefix('hooks')
  const { app } = await startIntake(t, ENV, prefix)
  const workerEnv = { REDIS_URL: TEST_REDIS_URL, QUEUE_PREFIX: prefix, ...ENV, WORKER_LOCK_DURATION_MS: '2000', WORKER_STALLED_INTERVAL_MS: '1000' }
  const worker = await spawnWorker(workerEnv)
  t.teardown(async () => { await worker.stop() })
  return { app, workerEnv, worker }
}

const register = async (app: FastifyInstance, url: string) =>
  await app.inject({ method: 'PUT', url: '/v1/webhook', headers: auth, payload: { Url: url } })

/** The TicketId a delivery reports. */
const ticketIdOf = (r: Received): string => (JSON.parse(r.body) as { data: { TicketId: string } }).data.TicketId

const verify = (secret: string, r: Received): unknown => new Webhook(secret).verify(r.body, {
  'webhook-id': String(r.headers['webhook-id']),
  'webhook-timestamp': String(r.headers['webhook-timestamp']),
  'webhook-signature': String(r.headers['webhook-signature'])
})

t.test('loopback is refused by default, at registration: no traffic is sent', async (t) => {
  const hook = await receiver(t)
  const { app } = await startIntake(t)
  const res = await register(app, hook.url)
  t.equal(res.statusCode, 400)
  t.match(res.json(), { Code: 'VALIDATION_ERROR', Data: { Errors: [{ Field: '/Url', Message: /host 127\.0\.0\.1 is not a public address .*WEBHOOK_ALLOW_PRIVATE_NETWORKS/ }] } })
  t.match((await register(app, 'http://169.254.169.254/latest')).json(), { Code: 'VALIDATION_ERROR' }, 'nor the cloud metadata address')
  // Defects #25.4: a name is refused without saying what it resolves to.
  const named = await register(app, `http://localhost:${hook.port}/hooks`)
  t.match(named.json(), { Code: 'VALIDATION_ERROR', Data: { Errors: [{ Field: '/Url', Message: /^host localhost is not a public address/ }] } })
  t.notMatch(named.body, /127\.0\.0\.1|::1/, 'the resolved address stays with the server')
  t.equal(hook.got.length, 0)
})

t.test('defects #25.4: an IP-literal URL registered where private networks were allowed is refused at delivery by a worker that refuses them', async (t) => {
  const hook = await receiver(t)
  const prefix = uniquePrefix('hooks-literal')
  // The intake allows private networks (a test or a closed network); the worker does not.
  const { app } = await startIntake(t, ENV, prefix)
  t.equal((await register(app, hook.url)).statusCode, 201)
  const worker = await spawnWorker({ REDIS_URL: TEST_REDIS_URL, QUEUE_PREFIX: prefix, WEBHOOK_RETRY_SCHEDULE: '1,1,1,1,1,1,1,1' })
  t.teardown(async () => { await worker.stop() })
  t.equal((await postTicket(app, client, { ...SEED_TICKET, TicketId: 'literal-1' }, { prefer: 'wait=10' })).statusCode, 200)
  const deliveries = async (): Promise<Array<{ Status: number | null, Error: string | null }>> =>
    ((await app.inject({ method: 'GET', url: '/v1/request-out/literal-1/deliveries', headers: auth })).json() as { Data: { Deliveries: Array<{ Status: number | null, Error: string | null }> } }).Data.Deliveries
  await waitFor('a refused attempt in the delivery log', async () => (await deliveries()).length > 0, 15_000, 50)
  const [attempt] = await deliveries()
  t.match(attempt, { Status: null, Error: /^AddressRefused: 127\.0\.0\.1 is not a public address/ }, 'the address connected to was checked, though no lookup ran')
  t.equal(hook.got.length, 0, 'and nothing reached the receiver')
})

t.test('defects #25.4: an operator\'s disable stays through the client\'s PUT; webhook routes count against the rate limit', async (t) => {
  const { app } = await startIntake(t, { ...ENV, ...await rateLimitWithin(6) })
  t.equal((await register(app, 'http://127.0.0.1:9/hooks')).statusCode, 201)
  await app.webhooks.endpoints.setEnabled('client-a', false, 'disabled by an operator', 'operator')
  const put = await register(app, 'http://127.0.0.1:9/other')
  t.equal(put.statusCode, 200)
  t.match(put.json(), { Data: { Url: 'http://127.0.0.1:9/other', Enabled: false, DisabledReason: 'disabled by an operator' } }, 'the client sees why, and it stays disabled')
  const codes: number[] = []
  for (let i = 0; i < 6; i++) codes.push((await app.inject({ method: 'POST', url: '/v1/webhook/rotate', headers: auth })).statusCode)
  t.same(codes.slice(0, 4), [200, 200, 200, 200])
  t.equal(codes.at(-1), 429, 'rotations are bounded by the per-client rate limit')
})

t.test('signed deliveries: verified with standardwebhooks, retried with the same id, through a rotation, and 410 disables', async (t) => {
  const hook = await receiver(t)
  const { app } = await setup(t)
  const created = await register(app, hook.url)
  t.equal(created.statusCode, 201)
  const secret = (created.json() as { Data: { Secret: string } }).Data.Secret
  t.match(secret, /^whsec_[A-Za-z0-9+/]{40,}={0,2}$/, 'the secret, shown once')
  const shown = await app.inject({ method: 'GET', url: '/v1/webhook', headers: auth })
  t.match(shown.json(), { Data: { Url: hook.url, Events: ['ticket.completed', 'ticket.failed', 'ticket.cancelled'], Enabled: true } })
  t.notOk((shown.json() as { Data: Record<string, unknown> }).Data.Secret, 'never shown again')

  // A completed ticket: one delivery, verified, its data what GET answers.
  t.equal((await postTicket(app, client, { ...SEED_TICKET, TicketId: 'hook-1' }, { prefer: 'wait=10' })).statusCode, 200)
  await waitFor('the delivery', () => hook.got.length === 1, 15_000, 20)
  const first = hook.got[0] as Received
  const payload = verify(secret, first) as { type: string, data: unknown }
  t.equal(payload.type, 'ticket.completed')
  t.same(payload.data, (await getTicket(app, client, 'hook-1')).json(), 'data is exactly what GET answers')
  t.equal(first.headers['content-type'], 'application/json')

  // Receiver failing, then back: retried with the same webhook-id and body.
  hook.mode.value = 'fail'
  t.equal((await postTicket(app, client, { ...SEED_TICKET, TicketId: 'hook-2' })).statusCode, 202)
  await waitFor('two failed attempts', () => hook.got.length >= 3, 15_000, 20)
  hook.mode.value = 'ok'
  await waitFor('the retry that succeeds', async () => {
    const list = (await app.inject({ method: 'GET', url: '/v1/request-out/hook-2/deliveries', headers: auth })).json() as { Data: { Deliveries: Array<{ Status: number | null }> } }
    return list.Data.Deliveries[0]?.Status === 204
  }, 20_000, 50)
  const attempts = hook.got.slice(1)
  t.equal(new Set(attempts.map((r) => r.headers['webhook-id'])).size, 1, 'one webhook-id across retries')
  t.equal(new Set(attempts.map((r) => r.body)).size, 1, 'and one body')
  for (const r of attempts) t.ok(verify(secret, r), 'each attempt verifies')
  const log = ((await app.inject({ method: 'GET', url: '/v1/request-out/hook-2/deliveries', headers: auth })).json() as { Data: { Deliveries: Array<{ Status: number, Attempt: number }> } }).Data.Deliveries
  t.same(log.map((d) => d.Status), [204, ...Array(attempts.length - 1).fill(500)], 'every attempt logged, newest first')

  // Re-send on demand: the same id and body again.
  const resent = await app.inject({ method: 'POST', url: '/v1/request-out/hook-2/deliveries', headers: auth })
  t.equal(resent.statusCode, 202)
  const before = hook.got.length
  await waitFor('the re-send', () => hook.got.length === before + 1, 15_000, 20)
  t.equal(hook.got.at(-1)?.headers['webhook-id'], attempts[0]?.headers['webhook-id'])
  // Defects #25.4: twenty more re-sends at once are one at most (one per event and minute).
  const burst = await Promise.all(Array.from({ length: 20 }, async () => (await app.inject({ method: 'POST', url: '/v1/request-out/hook-2/deliveries', headers: auth })).statusCode))
  t.same([...new Set(burst)], [202], 'each answered 202')
  await new Promise((resolve) => setTimeout(resolve, 3000))
  t.ok(hook.got.length - before - 1 <= 1, `${hook.got.length - before - 1} more deliveries for 20 re-sends (the minute may have turned once)`)

  // Rotation: both secrets sign for a while.
  const rotated = await app.inject({ method: 'POST', url: '/v1/webhook/rotate', headers: auth })
  const newSecret = (rotated.json() as { Data: { Secret: string } }).Data.Secret
  t.not(newSecret, secret)
  t.equal((await postTicket(app, client, { ...SEED_TICKET, TicketId: 'hook-3' })).statusCode, 202)
  await waitFor('the delivery after rotation', () => hook.got.some((r) => ticketIdOf(r) === 'hook-3'), 15_000, 20)
  const afterRotation = hook.got.find((r) => ticketIdOf(r) === 'hook-3') as Received
  t.equal(String(afterRotation.headers['webhook-signature']).split(' ').length, 2, 'two signatures')
  t.ok(verify(newSecret, afterRotation), 'verifies with the new secret')
  t.ok(verify(secret, afterRotation), 'and with the old one')

  // 410 ends it and disables the endpoint.
  hook.mode.value = 'gone'
  t.equal((await postTicket(app, client, { ...SEED_TICKET, TicketId: 'hook-4' })).statusCode, 202)
  await waitFor('the endpoint disabled', async () => ((await app.inject({ method: 'GET', url: '/v1/webhook', headers: auth })).json() as { Data: { Enabled: boolean } }).Data.Enabled === false, 15_000, 50)
  t.match((await app.inject({ method: 'GET', url: '/v1/webhook', headers: auth })).json(), { Data: { Enabled: false, DisabledReason: /410/ } })
  const gone = hook.got.length
  t.equal((await postTicket(app, client, { ...SEED_TICKET, TicketId: 'hook-5' }, { prefer: 'wait=10' })).statusCode, 200)
  await new Promise((resolve) => setTimeout(resolve, 1500))
  t.equal(hook.got.length, gone, 'a disabled endpoint gets nothing')
  t.equal((await register(app, hook.url)).statusCode, 200, 'registering again enables it (no new secret)')
})

t.test('a receiver down and back, and a worker SIGKILLed mid-delivery: still delivered, same id', async (t) => {
  const port = await freePort()
  const hook = await receiver(t, port)
  const { app, workerEnv, worker } = await setup(t)
  const secret = ((await register(app, hook.url)).json() as { Data: { Secret: string } }).Data.Secret

  await hook.close()
  t.equal((await postTicket(app, client, { ...SEED_TICKET, TicketId: 'down-1' })).statusCode, 202)
  await waitFor('failed attempts while it is down', async () =>
    ((await app.inject({ method: 'GET', url: '/v1/request-out/down-1/deliveries', headers: auth })).json() as { Data: { Deliveries: unknown[] } }).Data.Deliveries.length >= 2, 15_000, 50)
  await hook.reopen()
  await waitFor('the delivery once it is back', () => hook.got.some((r) => ticketIdOf(r) === 'down-1'), 15_000, 20)
  t.ok(verify(secret, hook.got.find((r) => ticketIdOf(r) === 'down-1') as Received))

  // The receiver holds the request; the worker dies with it in flight; another worker delivers it.
  hook.mode.value = 'slow'
  t.equal((await postTicket(app, client, { ...SEED_TICKET, TicketId: 'killed-1' })).statusCode, 202)
  await waitFor('the delivery in flight', () => hook.got.some((r) => ticketIdOf(r) === 'killed-1'), 15_000, 20)
  await worker.stop('SIGKILL')
  const second = await spawnWorker(workerEnv)
  t.teardown(async () => { await second.stop() })
  await waitFor('the delivery again', () => hook.got.filter((r) => ticketIdOf(r) === 'killed-1').length >= 2, 20_000, 50)
  const both = hook.got.filter((r) => ticketIdOf(r) === 'killed-1')
  t.equal(both[0]?.headers['webhook-id'], both[1]?.headers['webhook-id'], 'the same webhook-id: the receiver can drop the duplicate')
  t.ok(verify(secret, both[1] as Received))
})

t.test('an endpoint that never answers holds WEBHOOK_MAX_IN_FLIGHT deliveries at most, and another client\'s endpoint is served meanwhile', async (t) => {
  const stalling = await receiver(t)
  stalling.mode.value = 'hold'
  const healthy = await receiver(t)
  const prefix = uniquePrefix('hooks')
  const { app } = await startIntake(t, ENV, prefix)
  // Two workers, so the cap is held over the fleet, not per process; the timeout outlasts the test.
  const workerEnv = { REDIS_URL: TEST_REDIS_URL, QUEUE_PREFIX: prefix, ...ENV, WEBHOOK_MAX_IN_FLIGHT: '3', WEBHOOK_TIMEOUT_MS: '60000', WEBHOOK_CONCURRENCY: '8' }
  const workers = [await spawnWorker(workerEnv), await spawnWorker(workerEnv)]
  t.teardown(async () => { await Promise.all(workers.map(async (w) => w.stop())) })
  const other = tokenFor('client-b')
  t.equal((await register(app, stalling.url)).statusCode, 201)
  t.equal((await app.inject({ method: 'PUT', url: '/v1/webhook', headers: { authorization: `Bearer ${other}` }, payload: { Url: healthy.url } })).statusCode, 201)

  for (let i = 0; i < 10; i++) t.equal((await postTicket(app, client, { ...SEED_TICKET, TicketId: `held-${i}` })).statusCode, 202)
  await waitFor('the stalling endpoint\'s places taken', () => stalling.got.length >= 3, 15_000, 20)
  for (let i = 0; i < 10; i++) t.equal((await postTicket(app, other, { ...SEED_TICKET, TicketId: `served-${i}` })).statusCode, 202)
  await waitFor('the other client\'s deliveries', () => healthy.got.length >= 10, 15_000, 20)
  // None of the held requests has ended (the timeout is a minute): the stalling endpoint was never
  // sent more than its three, and ten of the other client's went past them.
  t.equal(stalling.got.length, 3, 'three requests reached the endpoint that never answers: its cap')
  t.equal(stalling.maxOpen(), 3)
  t.same(new Set(healthy.got.map(ticketIdOf)).size, 10)
  // Ends the held requests, so the workers stop without waiting them out.
  await stalling.close()
})

t.test('an endpoint at its cap: deliveries wait in the worker for a place given back, not in the queue, and the cap holds', async (t) => {
  const hook = await receiver(t)
  hook.mode.value = 'paced'
  const prefix = uniquePrefix('hooks')
  const { app } = await startIntake(t, ENV, prefix)
  // Two places, 40 ms each: 50 deliveries a second at most, and the tickets come at about 60.
  const worker = await spawnWorker({ REDIS_URL: TEST_REDIS_URL, QUEUE_PREFIX: prefix, ...ENV, WEBHOOK_MAX_IN_FLIGHT: '2', WEBHOOK_CONCURRENCY: '20' })
  t.teardown(async () => { await worker.stop() })
  t.equal((await register(app, hook.url)).statusCode, 201)
  const tickets = Array.from({ length: 80 }, (_, i) => `paced-${i}`)
  for (const id of tickets) {
    t.equal((await postTicket(app, client, { ...SEED_TICKET, TicketId: id })).statusCode, 202)
    await sleep(16)
  }
  const delivered = (): Set<string> => new Set(hook.got.map(ticketIdOf))
  await waitFor('every delivery', () => tickets.every((id) => delivered().has(id)), 30_000, 50)
  t.equal(hook.got.length, tickets.length, 'each delivered once')
  t.ok(hook.maxOpen() <= 2, `at most two open at the receiver (${hook.maxOpen()})`)
  // A delivery sent back to the queue is a BullMQ 'delayed' event of the webhook queue (no attempt
  // failed here, so no retry is one). Sent back on every full cap, there were more of them than
  // deliveries; waiting in the worker, only those before any place came back go.
  const { name, prefix: queuePrefix } = redisKeys(prefix).webhookQueue
  const redis = new Redis(TEST_REDIS_URL)
  t.teardown(() => { redis.disconnect() })
  const events = await redis.xrange(`${queuePrefix}:${name}:events`, '-', '+')
  const delayed = events.filter(([, fields]) => fields[1] === 'delayed').length
  t.ok(delayed < tickets.length / 4, `${delayed} of ${tickets.length} deliveries went back to the queue to wait`)
  // The worker counts both ends of a wait, so an operator sees a cap that binds.
  const metrics = await (await fetch(`http://127.0.0.1:${worker.healthPort}/metrics`)).text()
  const waits = (outcome: string): number => Number(new RegExp(`request_out_webhook_place_waits_total\\{outcome="${outcome}"\\} (\\d+)`).exec(metrics)?.[1] ?? 0)
  t.ok(waits('placed') > 0, `${waits('placed')} deliveries waited in the worker and got a place`)
  t.equal(waits('requeued'), delayed, 'every one that went back to the queue is counted')
})

t.test('a worker SIGKILLed while deliveries wait in it for places: every delivery is still made, the cap held', async (t) => {
  const hook = await receiver(t)
  hook.mode.value = 'paced'
  const prefix = uniquePrefix('hooks')
  const { app } = await startIntake(t, ENV, prefix)
  // A short timeout: the places the killed worker held are leased for it plus 5 s.
  const workerEnv = { REDIS_URL: TEST_REDIS_URL, QUEUE_PREFIX: prefix, ...ENV, WEBHOOK_MAX_IN_FLIGHT: '2', WEBHOOK_CONCURRENCY: '20', WEBHOOK_TIMEOUT_MS: '1000', WORKER_LOCK_DURATION_MS: '2000', WORKER_STALLED_INTERVAL_MS: '1000' }
  const doomed = await spawnWorker(workerEnv)
  const survivor = await spawnWorker(workerEnv)
  t.teardown(async () => { await Promise.all([doomed.stop(), survivor.stop()]) })
  t.equal((await register(app, hook.url)).statusCode, 201)
  const tickets = Array.from({ length: 60 }, (_, i) => `killed-wait-${i}`)
  for (const id of tickets) {
    t.equal((await postTicket(app, client, { ...SEED_TICKET, TicketId: id })).statusCode, 202)
    await sleep(10)
  }
  await waitFor('a third delivered, the rest queued or waiting', () => hook.got.length >= 20, 15_000, 10)
  await doomed.stop('SIGKILL')
  const delivered = (): Set<string> => new Set(hook.got.map(ticketIdOf))
  await waitFor('every delivery', () => tickets.every((id) => delivered().has(id)), 45_000, 50)
  t.ok(hook.maxOpen() <= 2, `at most two open at the receiver (${hook.maxOpen()})`)
  // A delivery the dead worker had sent but not yet marked done comes again, with the same webhook-id.
  const ids = new Map<string, Set<string>>()
  for (const r of hook.got) {
    const id = ticketIdOf(r)
    ids.set(id, (ids.get(id) ?? new Set()).add(String(r.headers['webhook-id'])))
  }
  t.ok([...ids.values()].every((s) => s.size === 1), 'one webhook-id a ticket')
  t.ok(hook.got.length - tickets.length <= 20, `${hook.got.length - tickets.length} sent twice: at most the dead worker's WEBHOOK_CONCURRENCY`)
})
