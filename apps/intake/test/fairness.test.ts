import t, { type Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import {
  TEST_REDIS_URL, json, okResult, spawnWorker, startUpstream, uniquePrefix, waitFor, writeCatalog
} from '@request-out/test-support'
import { watchRecords } from '@request-out/record-store'
import { Redis } from 'ioredis'
import { TEST_USERS, postTicket, startIntake, tokenFor, writeUsersFile } from './helpers.js'
import { ticketKey } from '@request-out/redis-keys'

const FAIR = { Subject: 'fair', SubjectType: 'share', SubjectIdentifier: 'slow' }
const FIFO = { Subject: 'fair', SubjectType: 'share', SubjectIdentifier: 'fifo' }
const CAPPED = { Subject: 'fair', SubjectType: 'share', SubjectIdentifier: 'capped' }

/** Records in the order they are stored (the ticket event streams), for one prefix. */
async function recordOrder (t: Test, prefix: string): Promise<string[]> {
  const order: string[] = []
  const connection = new Redis(TEST_REDIS_URL)
  const watcher = await watchRecords(connection, prefix, (key) => order.push(key))
  t.teardown(async () => {
    await watcher.stop()
    connection.disconnect()
  })
  return order
}

async function flood (app: FastifyInstance, clientId: string, product: Record<string, string>, n: number, tag: string): Promise<void> {
  const token = tokenFor(clientId)
  for (let i = 0; i < n; i++) t.equal((await postTicket(app, token, { ...product, TicketId: `${tag}-${i}` })).statusCode, 202)
}

t.test('fair sharing: a client with a backlog does not hold up another client; fifo does', async (t) => {
  const catalog = writeCatalog([
    { ...FAIR, Name: 'fair', Kind: 'sandbox', Concurrency: 1, Sandbox: { LatencyMs: 20 } },
    { ...FIFO, Name: 'fifo', Kind: 'sandbox', Concurrency: 1, Fairness: 'fifo', Sandbox: { LatencyMs: 20 } }
  ])
  const prefix = uniquePrefix('fair')
  const { app } = await startIntake(t, { PRODUCTS_FILE: catalog }, prefix)
  const order = await recordOrder(t, prefix)
  // Both backlogs queued before any worker runs: then client B sends its three.
  await flood(app, 'noisy', FAIR, 60, 'a-fair')
  await flood(app, 'noisy', FIFO, 60, 'a-fifo')
  await flood(app, 'quiet', FAIR, 3, 'b-fair')
  await flood(app, 'quiet', FIFO, 3, 'b-fifo')
  const worker = await spawnWorker({ REDIS_URL: TEST_REDIS_URL, QUEUE_PREFIX: prefix, PRODUCTS_FILE: catalog })
  t.teardown(async () => { await worker.stop() })
  await waitFor('every record', () => order.length >= 126, 60_000, 50)
  const position = (clientId: string, id: string): number => order.filter((k) => !k.includes('fifo')).indexOf(ticketKey(clientId, id))
  const fifoPosition = (clientId: string, id: string): number => order.filter((k) => k.includes('fifo')).indexOf(ticketKey(clientId, id))
  const lastFairB = Math.max(...[0, 1, 2].map((i) => position('quiet', `b-fair-${i}`)))
  t.ok(lastFairB >= 0 && lastFairB <= 6, `fair: B's three tickets done among the first 7 (the last at ${lastFairB}), not after A's 60`)
  t.same([0, 1, 2].map((i) => position('quiet', `b-fair-${i}`)), [0, 1, 2].map((i) => position('quiet', `b-fair-${i}`)).sort((a, b) => a - b), "FIFO within B's tickets")
  const aOrder = Array.from({ length: 60 }, (_, i) => position('noisy', `a-fair-${i}`))
  t.same(aOrder, [...aOrder].sort((a, b) => a - b), "FIFO within A's tickets")
  const firstFifoB = Math.min(...[0, 1, 2].map((i) => fifoPosition('quiet', `b-fifo-${i}`)))
  t.equal(firstFifoB, 60, 'fifo: B waits for all of A\'s backlog')
})

t.test('a re-POST or a conflicting POST takes no turn: the client keeps its place', async (t) => {
  const catalog = writeCatalog([{ ...FAIR, Name: 'fair', Kind: 'sandbox', Concurrency: 1 }])
  const prefix = uniquePrefix('turns')
  const { app } = await startIntake(t, { PRODUCTS_FILE: catalog }, prefix)
  const queue = app.ticketQueues.queueFor('fair/share/slow')
  const turnOf = async (clientId: string): Promise<number> => Number(await app.redis.producer.hget(queue?.toKey('ro-fair') ?? '', clientId))
  const token = tokenFor('quiet')
  for (let i = 0; i < 3; i++) t.equal((await postTicket(app, token, { ...FAIR, TicketId: `turn-${i}` })).statusCode, 202)
  t.equal(await turnOf('quiet'), 3, 'three tickets, three turns')
  t.equal((await postTicket(app, token, { ...FAIR, TicketId: 'turn-1' })).statusCode, 202, 'a re-POST answers as before')
  t.equal((await postTicket(app, token, { ...FAIR, TicketId: 'turn-1', Data: { Other: 1 } })).statusCode, 409, 'a conflict is refused')
  await waitFor('the turns given back', async () => await turnOf('quiet') === 3, 5000)
  t.equal((await queue?.getJob(ticketKey('quiet', 'turn-2')))?.opts.priority, 3, 'the jobs carry their turns as priorities')
})

t.test('ClientConcurrency holds over two worker processes; other clients keep running', async (t) => {
  let running = new Map<string, number>()
  const most = new Map<string, number>()
  const upstream = await startUpstream(t, async (body, _req, res) => {
    const client = String(body.TicketId).split('-')[0] ?? ''
    running.set(client, (running.get(client) ?? 0) + 1)
    most.set(client, Math.max(most.get(client) ?? 0, running.get(client) ?? 0))
    await new Promise((resolve) => setTimeout(resolve, 150))
    running.set(client, (running.get(client) ?? 1) - 1)
    json(res, 200, okResult)
  })
  const catalog = writeCatalog([{ ...CAPPED, Name: 'capped', Kind: 'http', Concurrency: 10, ClientConcurrency: 2, Http: { Url: upstream.url } }])
  const prefix = uniquePrefix('capped')
  const { app } = await startIntake(t, { PRODUCTS_FILE: catalog }, prefix)
  const order = await recordOrder(t, prefix)
  const env = { REDIS_URL: TEST_REDIS_URL, QUEUE_PREFIX: prefix, PRODUCTS_FILE: catalog }
  const workers = await Promise.all([spawnWorker(env), spawnWorker(env)])
  t.teardown(async () => { await Promise.all(workers.map(async (w) => w.stop())) })
  running = new Map()
  await flood(app, 'busy-client', CAPPED, 16, 'busy')
  await flood(app, 'quiet', CAPPED, 4, 'quiet')
  await waitFor('every record', () => order.length >= 20, 60_000, 50)
  t.equal(most.get('busy'), 2, 'at most 2 of one client at once, over both workers')
  t.ok((most.get('quiet') ?? 0) >= 1, 'the other client ran meanwhile')
  const quietDone = Math.max(...[0, 1, 2, 3].map((i) => order.indexOf(ticketKey('quiet', `quiet-${i}`))))
  t.ok(quietDone < 19, `the other client's tickets did not wait for the capped backlog (last at ${quietDone} of 20)`)
})

t.test('quotas over two intakes: 429 QUOTA_EXCEEDED with Retry-After; RateLimit fields for the closest limit', async (t) => {
  const users = writeUsersFile(t, [...TEST_USERS, { ...TEST_USERS.find((u) => u.Username === 'client-a')!, Username: 'quota-user', Quota: { Tickets: 3, PerSeconds: 3600 } }])
  const prefix = uniquePrefix('quota')
  const one = await startIntake(t, { AUTH_USERS_FILE: users }, prefix)
  const two = await startIntake(t, { AUTH_USERS_FILE: users }, prefix)
  const token = tokenFor('quota-user')
  const seed = { Subject: 'digitalid', SubjectType: 'enrollment', SubjectIdentifier: 'ektp' }
  const first = await postTicket(one.app, token, { ...seed, TicketId: 'q-1' })
  t.equal(first.statusCode, 202)
  t.equal(first.headers['ratelimit-policy'], '"tickets";q=3;w=3600', 'the quota is the closest limit')
  t.match(first.headers.ratelimit, /^"tickets";r=2;t=\d+$/)
  t.equal((await postTicket(two.app, token, { ...seed, TicketId: 'q-2' })).statusCode, 202)
  t.equal((await postTicket(one.app, token, { ...seed, TicketId: 'q-1' })).statusCode, 202, 'a repeated POST answers the ticket')
  t.equal((await postTicket(two.app, token, { ...seed, TicketId: 'q-3' })).statusCode, 202, 'and did not count: the third new ticket passes')
  const over = await postTicket(one.app, token, { ...seed, TicketId: 'q-4' })
  t.equal(over.statusCode, 429)
  t.match(over.json(), { Code: 'QUOTA_EXCEEDED', Message: /3 per 3600 s/ })
  const retryAfter = Number(over.headers['retry-after'])
  t.ok(retryAfter > 0 && retryAfter <= 3600, `Retry-After ${retryAfter} s: the end of the window`)
  t.match(over.headers.ratelimit, /^"tickets";r=0;t=\d+$/)
  t.equal((await postTicket(two.app, token, { ...seed, TicketId: 'q-5' })).statusCode, 429, 'the other intake agrees')
  // Defects #25.5: with the quota used up, only a new ticket is refused.
  const again = await postTicket(two.app, token, { ...seed, TicketId: 'q-2' })
  t.equal(again.statusCode, 202, 'a re-POST of an accepted ticket still answers its state')
  t.match(again.json(), { TicketId: 'q-2', StatusCode: 202 })
  t.equal(again.headers.location, '/v1/request-out/q-2')
  const conflict = await postTicket(one.app, token, { ...seed, TicketId: 'q-3', Data: { NIK: '3201015508900001' } })
  t.equal(conflict.statusCode, 409, 'a conflicting re-POST answers 409, not 429')
  t.match(conflict.json(), { Code: 'TICKET_CONFLICT' })
  t.equal((await postTicket(one.app, token, { ...seed, TicketId: 'q-6' })).statusCode, 429, 'and a new ticket is still refused')
  const other = await postTicket(one.app, tokenFor('client-a'), { ...seed, TicketId: 'q-1' })
  t.equal(other.statusCode, 202, 'another client has no quota')
  t.match(other.headers['ratelimit-policy'], /^"requests";q=6000;w=60$/, 'its closest limit is the request rate')
  t.match(other.headers.ratelimit, /^"requests";r=\d+;t=\d+$/)
})

t.test('a fresh intake\'s first requests arrive all at once: quota, turn and lease scripts share pipelines safely', async (t) => {
  // Scripts defined on first use used to break an auto-pipeline already under way (an ioredis
  // pipeline knows only the scripts defined before it was made): the intake died with an
  // uncaught 'results[i] is not iterable'.
  const users = writeUsersFile(t, [...TEST_USERS, { ...TEST_USERS.find((u) => u.Username === 'client-a')!, Username: 'quota-burst', Quota: { Tickets: 1000, PerSeconds: 3600 } }])
  const catalog = writeCatalog([{ ...FAIR, Name: 'fair', Kind: 'sandbox', Concurrency: 1 }])
  const { app } = await startIntake(t, { PRODUCTS_FILE: catalog, AUTH_USERS_FILE: users }, uniquePrefix('burst'))
  const answers = await Promise.all(Array.from({ length: 60 }, async (_, i) =>
    (await postTicket(app, tokenFor(i % 2 === 0 ? 'quota-burst' : 'quiet'), { ...FAIR, TicketId: `burst-${i}` })).statusCode))
  t.same(answers, answers.map(() => 202), 'every first request accepted')
})
