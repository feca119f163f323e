import t, { type Test } from 'tap'
import { spawn } from 'node:child_process'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Redis } from 'ioredis'
import { Webhook } from 'standardwebhooks'
import { WORKSPACE_ROOT, freePort, spawnApp, spawnWorker, startPrivateRedis, uniquePrefix, waitFor } from '@request-out/test-support'
import {
  Cancelled, NotFound, ProductNotAvailable, ProductRejected, RequestOutClient, TicketConflict, TicketFinal, Unauthorized, UnexpectedAnswer, ValidationError, verifyWebhook
} from '../src/index.js'

const SEED = { Subject: 'digitalid', SubjectType: 'enrollment', SubjectIdentifier: 'ektp' }

/** The real intake and a worker on a private Redis (which the tests may pause). */
async function system (t: Test, withWorker = true): Promise<{ base: string, redis: Awaited<ReturnType<typeof startPrivateRedis>>, prefix: string }> {
  const redis = await startPrivateRedis()
  t.teardown(redis.destroy)
  const prefix = uniquePrefix('client')
  const port = await freePort()
  const env = { REDIS_URL: redis.url, QUEUE_PREFIX: prefix, PORT: String(port), LOG_LEVEL: 'warn' }
  const intake = spawnApp('intake', env)
  t.teardown(async () => { await intake.stop() })
  if (withWorker) {
    const worker = await spawnWorker(env)
    t.teardown(async () => { await worker.stop() })
  }
  const base = `http://127.0.0.1:${port}`
  await waitFor('the intake', async () => (await fetch(`${base}/health/ready`).catch(() => undefined))?.ok === true, 30_000, 100)
  return { base, redis, prefix }
}

const login = (baseUrl: string): RequestOutClient => new RequestOutClient({ baseUrl, username: 'demo-client', password: 'demo-client-secret' })

t.test('submit-and-wait, a 503 storm retried to one record, a token revoked mid-session, each error typed', async (t) => {
  const { base, redis, prefix } = await system(t)
  const client = login(base)
  const record = await client.submitAndWait({ ...SEED, TicketId: 'sdk-1' }, { timeoutMs: 20_000 })
  t.match(record, { TicketId: 'sdk-1', StatusCode: 200, Status: 'success', Data: { Source: 'sandbox' } })
  t.match(await client.products(), [{ Key: 'digitalid/enrollment/ektp', Available: true }])
  t.match(await client.get('sdk-1'), { StatusCode: 200 })
  const batch = await client.submitBatch(Array.from({ length: 1200 }, (_, i) => ({ ...SEED, TicketId: `bulk-${i}` })))
  t.equal(batch.length, 1200, 'split into requests of at most 1,000, one result per ticket')
  t.ok(batch.every((r, i) => r.TicketId === `bulk-${i}` && r.StatusCode === 202), 'in order, all accepted')

  // Redis hangs for two seconds: the intake answers 503, the client retries with the same TicketId.
  redis.pause()
  const submitted = client.submitAndWait({ ...SEED, TicketId: 'storm-1' }, { timeoutMs: 30_000 })
  await new Promise((resolve) => setTimeout(resolve, 2000))
  redis.resume()
  t.match(await submitted, { TicketId: 'storm-1', StatusCode: 200 }, 'the record, after the storm')
  const probe = new Redis(redis.url)
  t.teardown(() => probe.disconnect())
  const streams = await probe.keys(`${prefix}:*:events`)
  let records = 0
  for (const stream of streams) {
    for (const [, fields] of await probe.xrange(stream, '-', '+')) {
      if (fields.includes('storm-1') && fields[fields.indexOf('type') + 1] === 'record') records++
    }
  }
  t.equal(records, 1, 'exactly one record')

  // Every token of the user revoked (its session ends): the next call logs in again by itself.
  const admin = new RequestOutClient({ baseUrl: base, username: 'demo-admin', password: 'demo-admin-secret' })
  await admin.products()
  const revoked = await fetch(`${base}/v1/admin/revocations`, {
    method: 'POST',
    headers: { authorization: `Bearer ${(await (await fetch(`${base}/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ Username: 'demo-admin', Password: 'demo-admin-secret' }) })).json() as { Data: { AccessToken: string } }).Data.AccessToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ Username: 'demo-client' })
  })
  t.equal(revoked.status, 200)
  await new Promise((resolve) => setTimeout(resolve, 1100)) // a token issued in the same second counts as revoked
  t.match(await client.get('sdk-1'), { StatusCode: 200 }, 'logged in again after the 401')

  // Each refusal as its own error, carrying the API's Code.
  await t.rejects(client.submit({ ...SEED, TicketId: 'sdk-1', Data: { NIK: '3201014509900001' } }), TicketConflict)
  await t.rejects(client.submitAndWait({ ...SEED, TicketId: 'bad-nik', Data: { NIK: '3201013208900001' } }, { timeoutMs: 15_000 }), ProductRejected)
  await t.rejects(client.submit({ ...SEED, SubjectIdentifier: 'nope', TicketId: 'x' }), ProductNotAvailable)
  await t.rejects(client.get('never-sent'), NotFound)
  await t.rejects(client.submit({ ...SEED, TicketId: 'bad id' }), ValidationError)
  await t.rejects(client.cancel('sdk-1'), TicketFinal)
  await t.rejects(new RequestOutClient({ baseUrl: base, username: 'demo-client', password: 'wrong' }).products(), Unauthorized)
  const err = await client.get('never-sent').catch((e: unknown) => e) as NotFound
  t.match(err, { code: 'NOT_FOUND', status: 404 })
})

t.test('cancel: CANCELLING, then Cancelled; NotFound and TicketFinal', async (t) => {
  // No worker: the ticket waits in its queue, so the cancellation takes it out.
  const { base } = await system(t, false)
  const client = login(base)
  t.match(await client.submit({ ...SEED, TicketId: 'to-cancel' }), { StatusCode: 202 })
  t.match(await client.cancel('to-cancel'), { TicketId: 'to-cancel', Code: 'CANCELLING', StatusCode: 202 })
  await t.rejects(client.get('to-cancel'), Cancelled, 'then the ticket is cancelled')
  await t.rejects(client.cancel('to-cancel'), Cancelled, 'a repeated cancel says so again')
  await t.rejects(client.cancel('never-there'), NotFound)
})

t.test('cancel of a finished ticket: TicketFinal', async (t) => {
  const { base } = await system(t)
  const client = login(base)
  await client.submitAndWait({ ...SEED, TicketId: 'done-1' }, { timeoutMs: 10_000 })
  await t.rejects(client.cancel('done-1'), TicketFinal)
})

t.test('the CLI: JSON on stdout, the exit codes', async (t) => {
  const { base } = await system(t)
  const cli = async (args: string[], env: Record<string, string> = {}): Promise<{ code: number | null, out: string, err: string }> => {
    const child = spawn(process.execPath, ['packages/client/dist/cli.js', ...args], {
      cwd: WORKSPACE_ROOT,
      env: { PATH: process.env.PATH ?? '', REQUEST_OUT_URL: base, REQUEST_OUT_USERNAME: 'demo-client', REQUEST_OUT_PASSWORD: 'demo-client-secret', ...env }
    })
    let out = ''
    let err = ''
    child.stdout.on('data', (d: Buffer) => { out += d.toString() })
    child.stderr.on('data', (d: Buffer) => { err += d.toString() })
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve))
    return { code, out, err }
  }
  const done = await cli(['submit', '--product', 'digitalid/enrollment/ektp', '--ticket-id', 'cli-1', '--wait', '10'])
  t.equal(done.code, 0, 'a record: 0')
  t.match(JSON.parse(done.out), { TicketId: 'cli-1', StatusCode: 200 })
  const accepted = await cli(['submit', '--product', 'digitalid/enrollment/ektp', '--ticket-id', 'cli-2'])
  t.equal(accepted.code, 2, 'accepted: 2')
  t.match(JSON.parse(accepted.out), { StatusCode: 202 })
  const rejected = await cli(['submit', '--product', 'digitalid/enrollment/ektp', '--ticket-id', 'cli-3', '--data', '{"NIK":"3201013208900001"}', '--wait', '10'])
  t.equal(rejected.code, 3, 'refused by the product: 3')
  t.match(rejected.err, /PRODUCT_REJECTED/)
  t.equal((await cli(['status', 'cli-1'])).code, 0)
  t.equal((await cli(['status', 'nobody'])).code, 4, 'not found: 4')
  const dashed = await cli(['status', '-dash'])
  t.equal(dashed.code, 1, 'an id beginning with "-" is read as an option: a usage error')
  t.match(dashed.err, /after '--'/, 'that says how to pass it')
  t.equal((await cli(['status', '--', '-dash'])).code, 4, 'and after "--" it is an id (not found: 4)')
  t.equal((await cli(['cancel', 'cli-1'])).code, 3, 'final already: 3')
  const products = await cli(['products'])
  t.equal(products.code, 0)
  t.match(JSON.parse(products.out), [{ Key: 'digitalid/enrollment/ektp' }])
  const usage = await cli(['submit', '--product', 'nope'])
  t.equal(usage.code, 1, 'usage: 1')
  t.match(usage.err, /^request-out: --product must be/)
  t.equal((await cli(['status', 'cli-1'], { REQUEST_OUT_USERNAME: '', REQUEST_OUT_PASSWORD: '' })).code, 1, 'no credentials: 1')
  t.equal((await cli(['status', 'cli-1'], { REQUEST_OUT_PASSWORD: 'wrong' })).code, 1, 'bad credentials: 1')
  const help = await cli(['submit', '--help'])
  t.equal(help.code, 0)
  t.match(help.out, /request-out submit --product/)
  // watch: each event as a JSON line, then the record's exit code.
  const watched = await cli(['watch', 'cli-3'])
  t.equal(watched.code, 3, 'watch of a ticket the product refused: its record\'s exit code')
  // The events, one line each; then, as `status` prints it, the refused record.
  t.same(watched.out.split('\n').filter((l) => l.startsWith('{"Id"')).map((l) => (JSON.parse(l) as { Type: string }).Type), ['accepted', 'record'])
  t.match(watched.err, /PRODUCT_REJECTED/)
  t.equal((await cli(['watch', 'cli-1'])).code, 0, 'watch of a ticket with its record: 0')
  t.equal((await cli(['watch', 'nobody'])).code, 4, 'watch of an unknown ticket: 4')
})

t.test('event streams: submitAndWatch hands over each event and answers the record; events() tells a finished ticket\'s story', async (t) => {
  const { base } = await system(t)
  const client = login(base)
  const seen: string[] = []
  const record = await client.submitAndWatch({ ...SEED, TicketId: 'watch-1' }, { timeoutMs: 20_000, onEvent: (e) => seen.push(`${e.Type}:${e.TicketId}`) })
  t.match(record, { TicketId: 'watch-1', StatusCode: 200 })
  t.same(seen, ['accepted:watch-1', 'record:watch-1'])
  const ids = []
  for await (const e of client.events('watch-1')) ids.push(e.Id)
  t.equal(ids.length, 2, 'events() of a finished ticket: its story, then the end')
  t.match(await client.streamToken('watch-1'), { StreamToken: /^ey/, ExpiresIn: 300 })
  await t.rejects(async () => { for await (const event of client.events('nobody')) t.fail(`no event: ${event.Id}`) }, NotFound, 'an unknown ticket: NotFound')
})

t.test('allEvents() resumes by itself across an intake\'s stop: the next event, nothing missed or repeated', async (t) => {
  const redis = await startPrivateRedis()
  t.teardown(redis.destroy)
  const port = await freePort()
  const env = { REDIS_URL: redis.url, QUEUE_PREFIX: uniquePrefix('client-events'), PORT: String(port), LOG_LEVEL: 'warn' }
  const base = `http://127.0.0.1:${port}`
  const ready = async (): Promise<void> => { await waitFor('the intake', async () => (await fetch(`${base}/health/ready`).catch(() => undefined))?.ok === true, 30_000, 100) }
  let intake = spawnApp('intake', env)
  t.teardown(async () => { await intake.stop() })
  await ready()
  const client = login(base)
  const all = client.allEvents({ types: ['accepted'] })
  const next = async (): Promise<string> => { const r = await all.next(); return r.done === true ? 'end' : r.value.TicketId }
  const first = next()
  await new Promise((resolve) => setTimeout(resolve, 500))
  await client.submit({ ...SEED, TicketId: 'all-1' })
  t.equal(await first, 'all-1')
  const second = next()
  // The intake stops (its streams end after a retry hint) and another starts on its port; a
  // ticket lands there before the client is back, and one after.
  t.equal(await intake.stop(), 0)
  intake = spawnApp('intake', env)
  await ready()
  await client.submit({ ...SEED, TicketId: 'all-2' })
  t.equal(await second, 'all-2', 'resumed from its cursor: the event that came while it was away')
  const third = next()
  await client.submit({ ...SEED, TicketId: 'all-3' })
  t.equal(await third, 'all-3', 'then live, nothing repeated')
  await all.return(undefined)
})

t.test('defects #25.12: an answer that is not Request Out\'s envelope (a 204, an HTML page) is said as such, exit 1', async (t) => {
  // A real HTTP server in Request Out's place: a proxy's page, or something else at that URL.
  const server = createServer((req, res) => {
    if (req.url?.startsWith('/v1/auth/login') === true) { res.writeHead(200, { 'content-type': 'application/json' }); res.end(JSON.stringify({ StatusCode: 200, Data: { AccessToken: 't', ExpiresIn: 3600 } })); return }
    if (req.method === 'GET') { res.writeHead(204); res.end(); return }
    res.writeHead(200, { 'content-type': 'text/html' })
    res.end('<html><body>Welcome to nginx!</body></html>')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { server.close() })
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const run = async (args: string[]): Promise<{ code: number | null, err: string }> => {
    const child = spawn(process.execPath, ['packages/client/dist/cli.js', ...args], {
      cwd: WORKSPACE_ROOT, env: { PATH: process.env.PATH ?? '', REQUEST_OUT_URL: base, REQUEST_OUT_TOKEN: 'x' }
    })
    let err = ''
    child.stderr.on('data', (d: Buffer) => { err += d.toString() })
    return { code: await new Promise<number | null>((resolve) => child.on('exit', resolve)), err }
  }
  const empty = await run(['status', 'x-1'])
  t.equal(empty.code, 1)
  t.match(empty.err, /^request-out: UNEXPECTED_ANSWER: GET \/v1\/request-out\/x-1 answered HTTP 204 with an empty body, not a Request Out answer/)
  t.notMatch(empty.err, /Cannot read properties/)
  const html = await run(['submit', '--product', 'a/b/c'])
  t.equal(html.code, 1)
  t.match(html.err, /answered HTTP 200 with text\/html: "<html><body>Welcome to nginx!/)
  await t.rejects(new RequestOutClient({ baseUrl: base, token: 'x' }).get('x-2'), UnexpectedAnswer, 'the typed client throws its own error')
})

t.test('verifyWebhook (Web Crypto) accepts what standardwebhooks signs, refuses the rest', async (t) => {
  const secret = `whsec_${Buffer.from('a'.repeat(32)).toString('base64')}`
  const other = `whsec_${Buffer.from('b'.repeat(32)).toString('base64')}`
  const body = JSON.stringify({ type: 'ticket.completed', timestamp: new Date().toISOString(), data: { TicketId: 'x' } })
  const now = new Date()
  const sig = new Webhook(secret).sign('msg_1', now, body)
  const headers = { 'webhook-id': 'msg_1', 'webhook-timestamp': String(Math.floor(now.getTime() / 1000)), 'webhook-signature': sig }
  t.same(await verifyWebhook(body, headers, [other, secret]), JSON.parse(body), 'one of the secrets matches')
  await t.rejects(verifyWebhook(body, headers, [other]), /no signature matches/)
  await t.rejects(verifyWebhook(`${body} `, headers, [secret]), /no signature matches/)
  await t.rejects(verifyWebhook(body, { ...headers, 'webhook-timestamp': String(Math.floor(now.getTime() / 1000) - 3600) }, [secret]), /too old/)
})
