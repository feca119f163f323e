import t from 'tap'
import { createSigner } from 'fast-jwt'
import { waitingJobs } from '@request-out/test-support'
import { SEED_TICKET, postTicket, signToken, startIntake, tokenFor } from './helpers.js'

const isErrorEnvelope = (body: Record<string, unknown>, code: string, status: number): boolean =>
  body.Status === 'failed' && body.Code === code && body.StatusCode === status && typeof body.Message === 'string' && 'Data' in body

t.test('every POST error path answers its code in the envelope', async (t) => {
  const { app } = await startIntake(t, { BODY_LIMIT_BYTES: '1024' })
  const token = tokenFor('client-a')
  const auth = { authorization: `Bearer ${token}` }
  const cases: Array<[string, () => Promise<{ statusCode: number, json: () => unknown, headers: Record<string, unknown> }>, number, string]> = [
    ['unknown field', async () => postTicket(app, token, { ...SEED_TICKET, Extra: 1 }), 400, 'VALIDATION_ERROR'],
    ['missing fields', async () => postTicket(app, token, { TicketId: 'x' }), 400, 'VALIDATION_ERROR'],
    ['TicketId with a space', async () => postTicket(app, token, { ...SEED_TICKET, TicketId: 'a b' }), 400, 'VALIDATION_ERROR'],
    ['TicketId too long', async () => postTicket(app, token, { ...SEED_TICKET, TicketId: 'x'.repeat(129) }), 400, 'VALIDATION_ERROR'],
    ['TicketId a number', async () => postTicket(app, token, { ...SEED_TICKET, TicketId: 12345 }), 400, 'VALIDATION_ERROR'],
    ['Subject with a slash', async () => postTicket(app, token, { ...SEED_TICKET, Subject: 'a/b' }), 400, 'VALIDATION_ERROR'],
    ['body an array', async () => postTicket(app, token, [SEED_TICKET] as unknown as Record<string, unknown>), 400, 'VALIDATION_ERROR'],
    ['malformed JSON', async () => app.inject({ method: 'POST', url: '/v1/request-out', headers: { ...auth, 'content-type': 'application/json' }, payload: '{"TicketId":' }), 400, 'INVALID_JSON'],
    ['empty JSON body', async () => app.inject({ method: 'POST', url: '/v1/request-out', headers: { ...auth, 'content-type': 'application/json' }, payload: '' }), 400, 'INVALID_JSON'],
    ['__proto__ key', async () => app.inject({ method: 'POST', url: '/v1/request-out', headers: { ...auth, 'content-type': 'application/json' }, payload: '{"__proto__":{"x":1}}' }), 400, 'INVALID_JSON'],
    ['too large', async () => postTicket(app, token, { ...SEED_TICKET, Data: { Image: 'x'.repeat(2000) } }), 413, 'PAYLOAD_TOO_LARGE'],
    ['text/plain', async () => app.inject({ method: 'POST', url: '/v1/request-out', headers: { ...auth, 'content-type': 'text/plain' }, payload: 'hello' }), 415, 'UNSUPPORTED_MEDIA_TYPE'],
    ['form body', async () => app.inject({ method: 'POST', url: '/v1/request-out', headers: { ...auth, 'content-type': 'application/x-www-form-urlencoded' }, payload: 'a=1' }), 415, 'UNSUPPORTED_MEDIA_TYPE'],
    ['no token', async () => app.inject({ method: 'POST', url: '/v1/request-out', payload: SEED_TICKET }), 401, 'UNAUTHORIZED'],
    ['unknown route', async () => app.inject({ method: 'GET', url: '/v1/nothing-here', headers: auth }), 404, 'ROUTE_NOT_FOUND']
  ]
  for (const [name, call, status, code] of cases) {
    const res = await call()
    t.equal(res.statusCode, status, `${name}: ${status}`)
    t.ok(isErrorEnvelope(res.json() as Record<string, unknown>, code, status), `${name}: ${code} envelope`)
  }
  const bad = (await postTicket(app, token, { TicketId: 'a b', Subject: 'digitalid', Extra: true })).json() as { Data: { Errors: Array<{ Field: string }> }, Message: string }
  t.same(bad.Data.Errors.map((e) => e.Field).sort(), ['/Extra', '/SubjectIdentifier', '/SubjectType', '/TicketId'], 'each bad field is named')
  t.match(bad.Message, /\/TicketId/)
  t.equal(await waitingJobs(app.ticketQueues.queueFor('digitalid/enrollment/ektp')), 0, 'nothing was enqueued')
})

t.test('forged, expired and foreign tokens get 401 with WWW-Authenticate', async (t) => {
  const { app } = await startIntake(t)
  const good = tokenFor('client-a')
  const [h, p, s] = good.split('.') as [string, string, string]
  const b64 = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url')
  const now = Math.floor(Date.now() / 1000)
  const tokens: Record<string, string> = {
    'alg none': `${b64({ alg: 'none', typ: 'JWT' })}.${p}.`,
    'tampered payload': `${h}.${b64({ sub: 'admin', role: 'admin', iss: 'request-out', aud: 'request-out', exp: now + 60 })}.${s}`,
    'wrong key': createSigner({ key: 'another-secret-another-secret-1234', iss: 'request-out', aud: 'request-out', expiresIn: 60_000 })({ sub: 'x', role: 'client' }),
    expired: signToken({ sub: 'x', role: 'client', exp: now - 3600 }, { expiresIn: undefined }),
    'not yet valid': signToken({ sub: 'x', role: 'client', nbf: now + 3600 }),
    'wrong audience': signToken({ sub: 'x', role: 'client' }, { aud: 'someone-else' }),
    'wrong issuer': signToken({ sub: 'x', role: 'client' }, { iss: 'someone-else' }),
    'no role': signToken({ sub: 'x' }),
    'unknown role': signToken({ sub: 'x', role: 'root' }),
    'no sub': signToken({ role: 'client' }),
    garbage: 'not.a.jwt',
    oversized: `${h}.${'A'.repeat(9000)}.${s}`
  }
  for (const [name, token] of Object.entries(tokens)) {
    const res = await postTicket(app, token, SEED_TICKET)
    t.equal(res.statusCode, 401, name)
    t.match(res.headers['www-authenticate'], /^Bearer/, `${name}: WWW-Authenticate`)
    t.match(res.json(), { Code: 'UNAUTHORIZED' })
  }
  for (const header of ['Basic dXNlcjpwYXNz', 'Bearer', `bearer  ${good} extra`, '']) {
    const res = await app.inject({ method: 'GET', url: '/v1/products', headers: { authorization: header } })
    t.equal(res.statusCode, 401, `Authorization: ${JSON.stringify(header.slice(0, 20))}`)
  }
  t.equal((await postTicket(app, good, SEED_TICKET)).statusCode, 202, 'the good token still works')
})

t.test('login: demo users, wrong password, rate limit per username and address', async (t) => {
  const { app } = await startIntake(t, { LOGIN_RATE_LIMIT_MAX: '3' })
  const ok = await app.inject({ method: 'POST', url: '/v1/auth/login', payload: { Username: 'demo-admin', Password: 'demo-admin-secret' } })
  t.equal(ok.statusCode, 200)
  t.match(ok.json(), { Status: 'success', Data: { TokenType: 'Bearer', ExpiresIn: 3600, AccessToken: /^ey/ }, StatusCode: 200 })
  const payload = JSON.parse(Buffer.from((ok.json() as { Data: { AccessToken: string } }).Data.AccessToken.split('.')[1] ?? '', 'base64url').toString()) as Record<string, unknown>
  t.match(payload, { sub: 'demo-admin', role: 'admin', iss: 'request-out', aud: 'request-out' })

  const wrong = await app.inject({ method: 'POST', url: '/v1/auth/login', payload: { Username: 'demo-client', Password: 'nope' } })
  t.equal(wrong.statusCode, 401)
  t.match(wrong.json(), { Code: 'INVALID_CREDENTIALS' })
  const unknown = await app.inject({ method: 'POST', url: '/v1/auth/login', payload: { Username: 'nobody', Password: 'nope' } })
  t.match(unknown.json(), { Code: 'INVALID_CREDENTIALS' }, 'an unknown user looks the same')
  t.equal((await app.inject({ method: 'POST', url: '/v1/auth/login', payload: { Username: 'x' } })).statusCode, 400)

  await app.inject({ method: 'POST', url: '/v1/auth/login', payload: { Username: 'demo-client', Password: 'nope' } })
  await app.inject({ method: 'POST', url: '/v1/auth/login', payload: { Username: 'demo-client', Password: 'nope' } })
  const limited = await app.inject({ method: 'POST', url: '/v1/auth/login', payload: { Username: 'demo-client', Password: 'demo-client-secret' } })
  t.equal(limited.statusCode, 429, 'the 4th attempt on one username from one address is limited')
  t.match(limited.json(), { Code: 'RATE_LIMITED' })
  t.ok(limited.headers['retry-after'])
  t.equal((await app.inject({ method: 'POST', url: '/v1/auth/login', payload: { Username: 'demo-admin', Password: 'demo-admin-secret' } })).statusCode, 200,
    'another username is not locked out')
})

t.test('an unexpected error answers 500 INTERNAL without internals', async (t) => {
  const { prefix } = await startIntake(t)
  // A fresh app (same prefix, cleaned up with the first) to add a failing route before it is ready.
  const { buildApp } = await import('../src/app.js')
  const { loadIntakeConfig } = await import('../src/config.js')
  const app = await buildApp(loadIntakeConfig({ QUEUE_PREFIX: prefix, LOG_LEVEL: 'silent', REDIS_URL: process.env.REDIS_URL }), { logger: false })
  app.get('/boom', async () => { throw new Error('secret detail at /srv/internal.js:42') })
  t.teardown(async () => app.close())
  const res = await app.inject({ method: 'GET', url: '/boom' })
  t.equal(res.statusCode, 500)
  t.same(res.json(), { Status: 'failed', Code: 'INTERNAL', Message: 'Internal error', Data: null, StatusCode: 500 })
  t.notMatch(res.body, /secret|internal\.js|at /)
})
