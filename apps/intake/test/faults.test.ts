import t from 'tap'
import net from 'node:net'
import type { FastifyInstance } from 'fastify'
import { hasRedisServer, startPrivateRedis, waitFor } from '@request-out/test-support'
import { SEED_TICKET, getTicket, postTicket, startIntake, tokenFor } from './helpers.js'

const noRedis = { skip: hasRedisServer() ? false : 'redis-server is not installed' }

/** The answer, or a failure when it takes longer than `ms`: a hang must show as a failed test, not a stuck one. */
async function within<T> (ms: number, what: string, call: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const limit = new Promise<never>((_resolve, reject) => { timer = setTimeout(() => reject(new Error(`${what} hung for ${ms} ms`)), ms) })
  try {
    return await Promise.race([call, limit])
  } finally {
    clearTimeout(timer)
  }
}

const ready = async (app: FastifyInstance) => app.inject({ method: 'GET', url: '/health/ready' })
const login = async (app: FastifyInstance) => app.inject({ method: 'POST', url: '/v1/auth/login', payload: { Username: 'demo-client', Password: 'demo-client-secret' } })

t.test('a hung Redis (SIGSTOP) looks like a dead one: prompt 503s, one warning per outage, no error lines', noRedis, async (t) => {
  const redis = await startPrivateRedis()
  t.teardown(async () => redis.destroy())
  const lines: Array<Record<string, unknown>> = []
  const { app } = await startIntake(t, { REDIS_URL: redis.url, REDIS_COMMAND_TIMEOUT_MS: '500' }, undefined, { logLines: lines })
  const token = tokenFor('client-a')
  t.equal((await postTicket(app, token, SEED_TICKET)).statusCode, 202)

  for (const [outage, begin, end] of [
    ['hung', () => redis.pause(), () => redis.resume()],
    ['dead', async () => redis.stop(true), async () => redis.restart()]
  ] as const) {
    const from = lines.length
    await begin()
    for (let i = 0; i < 10; i++) {
      const post = await within(3000, `POST while Redis is ${outage}`, postTicket(app, token, { ...SEED_TICKET, TicketId: `${outage}-${i}` }))
      t.equal(post.statusCode, 503, `${outage}: POST ${i} answers 503`)
      t.match(post.json(), { Code: 'UNAVAILABLE', StatusCode: 503 })
      t.equal(post.headers['retry-after'], '1')
    }
    t.equal((await within(3000, 'GET', getTicket(app, token, SEED_TICKET.TicketId))).statusCode, 503, `${outage}: GET answers 503`)
    t.equal((await within(3000, 'readiness', ready(app))).statusCode, 503, `${outage}: not ready`)
    t.equal((await within(3000, 'login', login(app))).statusCode, 200, `${outage}: login still answers (limits counted in memory)`)
    await end()
    await waitFor(`Redis back after it was ${outage}`, async () => (await postTicket(app, token, { ...SEED_TICKET, TicketId: `${outage}-after` })).statusCode === 202, 15_000, 100)
    await waitFor('the recovery line', () => lines.slice(from).some((l) => /redis reachable again/.test(String(l.msg))), 5000)
    const during = lines.slice(from)
    t.equal(during.filter((l) => /redis unreachable/.test(String(l.msg))).length, 1, `${outage}: one warning when the outage starts`)
    t.equal(during.filter((l) => Number(l.level) >= 50).length, 0, `${outage}: no error lines for expected 503s`)
    const back = during.find((l) => /redis reachable again/.test(String(l.msg)))
    t.ok(Number(back?.refusedRequests) >= 11, `${outage}: the recovery line counts the refused requests (${String(back?.refusedRequests)})`)
  }
})

t.test('defects #25.8: the first request on a hung Redis answers 503 after one command timeout, not one per command', noRedis, async (t) => {
  const redis = await startPrivateRedis()
  t.teardown(async () => redis.destroy())
  // Long enough that one timeout and three in a row cannot be confused on a loaded machine.
  const timeoutMs = 2000
  const { app } = await startIntake(t, { REDIS_URL: redis.url, REDIS_COMMAND_TIMEOUT_MS: String(timeoutMs) })
  const token = tokenFor('client-a')
  t.equal((await postTicket(app, token, SEED_TICKET)).statusCode, 202)
  redis.pause()
  t.teardown(() => { redis.resume() })
  const started = Date.now()
  const post = await within(4 * timeoutMs, 'the first POST', postTicket(app, token, { ...SEED_TICKET, TicketId: 'hung-first' }))
  const elapsed = Date.now() - started
  t.equal(post.statusCode, 503)
  t.ok(elapsed < 1.9 * timeoutMs, `answered after ${elapsed} ms: one timeout (${timeoutMs} ms), not one per command`)
})

t.test('idle and slow connections are closed: header and keep-alive timeouts', async (t) => {
  const { app } = await startIntake(t, { HTTP_HEADERS_TIMEOUT_MS: '1000', HTTP_KEEP_ALIVE_TIMEOUT_MS: '1000', HTTP_REQUEST_TIMEOUT_MS: '2000' })
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.equal(app.server.headersTimeout, 1000)
  t.equal(app.server.requestTimeout, 2000)
  t.equal(app.server.keepAliveTimeout, 1000)
  const port = (app.server.address() as net.AddressInfo).port
  const closed = (request: string): Promise<string> => new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(request))
    let answer = ''
    socket.on('data', (d) => { answer += d.toString() })
    socket.on('error', reject)
    socket.on('close', () => resolve(answer))
  })
  const slow = await within(10_000, 'a connection that never finishes its headers', closed('GET /health/live HTTP/1.1\r\nHost: x\r\n'))
  t.match(slow, /^HTTP\/1\.1 408 /, 'a slow client gets 408 and the connection is closed')
  t.match(slow, /"Code":"REQUEST_TIMEOUT"/)
  const idle = await within(10_000, 'an idle keep-alive connection', closed('GET /health/live HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n'))
  t.match(idle, /^HTTP\/1\.1 200 /, 'answered, then closed once idle')
})

t.test('a token in the query string never reaches the log', async (t) => {
  const lines: Array<Record<string, unknown>> = []
  const { app } = await startIntake(t, {}, undefined, { logLines: lines })
  const token = tokenFor('client-a')
  const res = await app.inject({ method: 'GET', url: `/v1/products?access_token=${token}&x=1` })
  t.equal(res.statusCode, 401)
  const text = JSON.stringify(lines)
  t.notMatch(text, token.split('.')[2] ?? 'never', 'no part of the token is logged')
  t.ok(lines.some((l) => (l.req as { url?: string } | undefined)?.url === '/v1/products?access_token=[redacted]&x=[redacted]'), 'the URL is logged with its query values redacted')
})
