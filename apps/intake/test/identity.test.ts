import t from 'tap'
import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto'
import { readFileSync, renameSync, writeFileSync } from 'node:fs'
import type { FastifyInstance } from 'fastify'
import { createSigner } from 'fast-jwt'
import { Redis } from 'ioredis'
import { TEST_REDIS_URL, WORKSPACE_ROOT, hasRedisServer, startPrivateRedis, uniquePrefix, waitFor } from '@request-out/test-support'
import { loadIntakeConfig } from '../src/config.js'
import { DEVELOPMENT_FINGERPRINT_KEY, DEVELOPMENT_JWT_SECRET, PUBLIC_SECRETS, assertProductionSecret } from '../src/public-secrets.js'
import { SEED_TICKET, TEST_USERS, login, postTicket, signToken, startIntake, tokenFor, writeUsersFile } from './helpers.js'
import { redisKeys } from '@request-out/redis-keys'

const products = async (app: FastifyInstance, token: string): Promise<number> =>
  (await app.inject({ method: 'GET', url: '/v1/products', headers: { authorization: `Bearer ${token}` } })).statusCode

const switchProduct = async (app: FastifyInstance, token: string): Promise<number> =>
  (await app.inject({
    method: 'PUT',
    url: '/v1/products/digitalid/enrollment/ektp/availability',
    headers: { authorization: `Bearer ${token}` },
    payload: { Available: true }
  })).statusCode

const tryLogin = async (app: FastifyInstance, Username: string, Password: string, remoteAddress = '127.0.0.1'): Promise<{ statusCode: number, headers: Record<string, unknown> }> =>
  app.inject({ method: 'POST', url: '/v1/auth/login', payload: { Username, Password }, remoteAddress })

const adminFormLogin = async (app: FastifyInstance, Username: string, Password: string, remoteAddress = '127.0.0.1') =>
  app.inject({
    method: 'POST',
    url: '/admin/login',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ Username, Password }).toString(),
    remoteAddress
  })

function saveUsers (file: string, users: typeof TEST_USERS): void {
  // As the users CLI and a Kubernetes Secret update do: a new file swapped in.
  writeFileSync(`${file}.new`, JSON.stringify({ Users: users }))
  renameSync(`${file}.new`, file)
}

t.test('the user directory, not the token, decides: removed and demoted users lose access without a restart', async (t) => {
  const file = writeUsersFile(t)
  const { app } = await startIntake(t, { AUTH_USERS_FILE: file, AUTH_USERS_POLL_MS: '100' })
  const admin = tokenFor('ops', 'admin')
  const client = tokenFor('client-a')
  t.equal(await switchProduct(app, admin), 200, 'an admin switches products')

  saveUsers(file, TEST_USERS.map((u) => (u.Username === 'ops' ? { ...u, Role: 'client' as const } : u)))
  await waitFor('the demoted admin to be refused', async () => (await switchProduct(app, admin)) === 403, 5000)
  t.pass('an admin demoted in the file is a client from then on, though the token still says admin')

  saveUsers(file, TEST_USERS.filter((u) => u.Username !== 'client-a'))
  await waitFor('the removed user to be refused', async () => (await products(app, client)) === 401, 5000)
  t.pass('a removed user is refused')

  saveUsers(file, TEST_USERS.map((u) => (u.Username === 'client-b' ? { ...u, Products: ['other/product/key'] } : u)))
  const b = tokenFor('client-b')
  await waitFor('the narrowed user to lose the product', async () => {
    const res = await app.inject({ method: 'GET', url: '/v1/products', headers: { authorization: `Bearer ${b}` } })
    return (res.json() as { Data: { Products: unknown[] } }).Data.Products.length === 0
  }, 5000)
  t.pass("the products come from the directory, not from the token's claims")

  writeFileSync(file, '{ not json')
  await waitFor('the broken file to be seen', () => app.auth.users?.reloadError !== undefined, 5000, 20)
  t.equal(await products(app, tokenFor('client-b')), 200, 'a broken file keeps the last good users')
})

t.test('tokens carry a jti; logout revokes the token on every intake', async (t) => {
  const one = await startIntake(t)
  const two = await startIntake(t, { AUTH_USERS_FILE: one.config.env.AUTH_USERS_FILE ?? '' }, one.prefix)
  const token = await login(one.app, 'demo-client', 'demo-client-secret')
  const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as Record<string, unknown>
  t.match(payload, { jti: /^[0-9a-f-]{36}$/, iat: Number })
  t.equal(await products(two.app, token), 200)

  const out = await one.app.inject({ method: 'POST', url: '/v1/auth/logout', headers: { authorization: `Bearer ${token}` } })
  t.equal(out.statusCode, 200)
  t.match(out.json(), { Status: 'success', StatusCode: 200 })
  t.equal(await products(one.app, token), 401, 'the token is refused where it logged out')
  await waitFor('the other intake to hear of the revocation', async () => (await products(two.app, token)) === 401, 3000)
  t.pass('and on the other intake, through pub/sub')

  const later = await startIntake(t, { AUTH_USERS_FILE: one.config.env.AUTH_USERS_FILE ?? '' }, one.prefix)
  t.equal(await products(later.app, token), 401, 'an intake started later reads the revocation from Redis')
  t.equal(await products(one.app, await login(one.app, 'demo-client', 'demo-client-secret')), 200, 'a new login works')
})

t.test('tokens without a jti are refused in login mode', async (t) => {
  const { app } = await startIntake(t)
  const noJti = createSigner({ key: DEVELOPMENT_JWT_SECRET, iss: 'request-out', aud: 'request-out', expiresIn: 60_000 })({ sub: 'client-a', role: 'client' })
  t.equal(await products(app, noJti), 401)
})

t.test('an admin revokes every token of a user, or one token by its id', async (t) => {
  const { app } = await startIntake(t)
  const admin = tokenFor('ops', 'admin')
  const first = tokenFor('client-a')
  const second = tokenFor('client-a')
  const other = tokenFor('client-b')
  const revoke = async (body: object, token = admin) =>
    app.inject({ method: 'POST', url: '/v1/admin/revocations', headers: { authorization: `Bearer ${token}` }, payload: body })

  t.equal((await revoke({ Username: 'client-a' }, other)).statusCode, 403, 'clients may not revoke')
  t.equal((await revoke({ Nobody: 'x' })).statusCode, 400, 'a body without Username or TokenId is refused')
  t.equal((await revoke({ Username: 'client-a' })).statusCode, 200)
  t.equal(await products(app, first), 401)
  t.equal(await products(app, second), 401)
  t.equal(await products(app, other), 200, "another user's tokens still work")
  await waitFor('a token issued after the revocation to work', async () => (await products(app, tokenFor('client-a'))) === 200, 5000)
  t.pass('tokens issued after the revocation work')

  const jti = randomUUID()
  const one = signToken({ sub: 'client-b', role: 'client' }, { jti })
  t.equal(await products(app, one), 200)
  t.equal((await revoke({ TokenId: jti })).statusCode, 200)
  t.equal(await products(app, one), 401, 'the one token is refused')
  t.equal(await products(app, other), 200, 'the same user\'s other tokens still work')
})

t.test('external-token mode: revocation by TokenId, by Username, and logout of a token without a jti', async (t) => {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519')
  const sign = createSigner({ key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), algorithm: 'EdDSA', iss: 'user-access', aud: 'request-out', expiresIn: 60_000 })
  const { app } = await startIntake(t, { JWT_PUBLIC_KEY: publicKey.export({ type: 'spki', format: 'pem' }).toString(), JWT_ISSUER: 'user-access' })
  const admin = sign({ sub: 'ext-admin', role: 'admin', jti: randomUUID() })
  const withId = sign({ sub: 'ext-client', role: 'client', jti: 'token-1' })
  const withoutId = sign({ sub: 'ext-other', role: 'client' })
  t.equal(await products(app, withId), 200)
  t.equal((await app.inject({ method: 'POST', url: '/v1/admin/revocations', headers: { authorization: `Bearer ${admin}` }, payload: { TokenId: 'token-1' } })).statusCode, 200)
  t.equal(await products(app, withId), 401, 'revoked by its id')

  t.equal(await products(app, withoutId), 200)
  t.equal((await app.inject({ method: 'POST', url: '/v1/auth/logout', headers: { authorization: `Bearer ${withoutId}` } })).statusCode, 200)
  t.equal(await products(app, withoutId), 401, 'a token without a jti is revoked by its hash')

  const third = sign({ sub: 'ext-third', role: 'client' })
  t.equal((await app.inject({ method: 'POST', url: '/v1/admin/revocations', headers: { authorization: `Bearer ${admin}` }, payload: { Username: 'ext-third' } })).statusCode, 200)
  t.equal(await products(app, third), 401, 'revoked by its user')
})

t.test('the dashboard session ends for good at /admin/logout', async (t) => {
  const { app } = await startIntake(t)
  const logged = await adminFormLogin(app, 'demo-admin', 'demo-admin-secret')
  t.equal(logged.statusCode, 303)
  const cookie = String(logged.headers['set-cookie']).split(';')[0] ?? ''
  const page = await app.inject({ method: 'GET', url: '/admin/products', headers: { cookie, accept: 'text/html' } })
  t.equal(page.statusCode, 200)
  const csrf = /name="csrf" value="([^"]+)"/.exec(page.body)?.[1] ?? ''
  // The form token's secret travels in its own cookie, as the browser would send it.
  const csrfSecret = String(page.headers['set-cookie']).split(';')[0] ?? ''
  const out = await app.inject({
    method: 'POST',
    url: '/admin/logout',
    headers: { cookie: `${cookie}; ${csrfSecret}`, 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ csrf }).toString()
  })
  t.equal(out.statusCode, 303)
  const again = await app.inject({ method: 'GET', url: '/admin/products', headers: { cookie, accept: 'text/html' } })
  t.equal(again.statusCode, 302, 'a copy of the old cookie opens nothing')
  t.equal(again.headers.location, '/admin/login')
})

t.test('the revocation check costs no Redis command per request', { skip: hasRedisServer() ? false : 'redis-server is not installed' }, async (t) => {
  const redis = await startPrivateRedis()
  t.teardown(async () => redis.destroy())
  const { app } = await startIntake(t, { REDIS_URL: redis.url })
  const token = tokenFor('client-a')
  const probe = new Redis(redis.url)
  t.teardown(() => probe.disconnect())
  const processed = async (): Promise<number> => Number(/total_commands_processed:(\d+)/.exec(await probe.info('stats'))?.[1])
  const before = await processed()
  for (let i = 0; i < 200; i++) await products(app, token)
  const used = (await processed()) - before - 1
  // Background loops (availability, queue counts) run a few commands a second meanwhile.
  t.ok(used < 40, `200 authenticated requests cost ${used} Redis commands`)
})

t.test('production refuses secrets published in the repository, short ones and patterns, naming JWT_SECRET', async (t) => {
  const users = writeUsersFile(t)
  const base = { NODE_ENV: 'production', REDIS_URL: TEST_REDIS_URL, AUTH_USERS_FILE: users, TICKET_FINGERPRINT_KEY: randomBytes(32).toString('base64') }
  const k8s = /JWT_SECRET:\s*(\S+)/.exec(readFileSync(`${WORKSPACE_ROOT}/deploy/k8s/secret.yaml`, 'utf8'))?.[1] ?? ''
  t.ok(k8s.length >= 32, 'the manifest example is long enough to pass the length rule')
  for (const [name, secret] of [
    ['the development secret', DEVELOPMENT_JWT_SECRET],
    ['the Kubernetes example', k8s],
    ['a short one', 'short-secret'],
    ['one character repeated', 'x'.repeat(40)],
    ['a short pattern repeated', 'abc123'.repeat(8)]
  ] as const) {
    t.throws(() => loadIntakeConfig({ ...base, JWT_SECRET: secret }), /JWT_SECRET/, name)
  }
  const good = randomBytes(32).toString('base64')
  t.equal(loadIntakeConfig({ ...base, JWT_SECRET: good }).production, true, 'a random secret is accepted')
  t.throws(() => loadIntakeConfig({ ...base, JWT_SECRET: good, AUTH_USERS_FILE: writeUsersFile(t, []) }), /AUTH_USERS_FILE.*no users/,
    'an empty users file is refused in production')
})

t.test('production needs its own TICKET_FINGERPRINT_KEY, refused when missing, published or weak like JWT_SECRET', async (t) => {
  const base = { NODE_ENV: 'production', REDIS_URL: TEST_REDIS_URL, AUTH_USERS_FILE: writeUsersFile(t), JWT_SECRET: randomBytes(32).toString('base64') }
  t.throws(() => loadIntakeConfig(base), /TICKET_FINGERPRINT_KEY: required in production/)
  const k8s = /TICKET_FINGERPRINT_KEY:\s*(\S+)/.exec(readFileSync(`${WORKSPACE_ROOT}/deploy/k8s/secret.yaml`, 'utf8'))?.[1] ?? ''
  for (const [name, key] of [
    ['the development key', DEVELOPMENT_FINGERPRINT_KEY],
    ['the Kubernetes example', k8s],
    ['a short one', 'short-key'],
    ['a short pattern repeated', 'abc123'.repeat(8)]
  ] as const) {
    t.throws(() => loadIntakeConfig({ ...base, TICKET_FINGERPRINT_KEY: key }), /TICKET_FINGERPRINT_KEY/, name)
  }
  t.same(loadIntakeConfig({ ...base, TICKET_FINGERPRINT_KEY: randomBytes(32).toString('hex') }).production, true)
  const dev = loadIntakeConfig({ REDIS_URL: TEST_REDIS_URL })
  t.equal(dev.fingerprintKeys.current, DEVELOPMENT_FINGERPRINT_KEY, 'development intakes share the development key')
  t.match(dev.warnings.join('\n'), /TICKET_FINGERPRINT_KEY is not set/)
})

t.test('defects #25.2: a TICKET_FINGERPRINT_KEY change does not turn re-POSTs into 409s, and conflicts stay conflicts under the previous key', async (t) => {
  const prefix = uniquePrefix('fp-keys')
  const OLD = randomBytes(32).toString('base64')
  const NEW = randomBytes(32).toString('base64')
  const client = tokenFor('client-a')
  const ticket = { ...SEED_TICKET, TicketId: 'fp-rotate', Data: { Image: 'one' } }
  const before = await startIntake(t, { TICKET_FINGERPRINT_KEY: OLD }, prefix)
  t.equal((await postTicket(before.app, client, ticket)).statusCode, 202)
  const stored = await before.app.redis.producer.hget(redisKeys(prefix).ticket('client-a', 'fp-rotate'), 'fp') ?? ''
  t.match(stored, /^[\w-]{8}\.[\w-]{43}$/, 'stored as <key id>.<HMAC>')

  const rotated = await startIntake(t, { TICKET_FINGERPRINT_KEY: NEW, TICKET_FINGERPRINT_PREVIOUS_KEY: OLD }, prefix)
  t.equal((await postTicket(rotated.app, client, ticket)).statusCode, 202, 'the same fields, after the change: the ticket')
  t.match((await postTicket(rotated.app, client, { ...ticket, Data: { Image: 'two' } })).json(), { Code: 'TICKET_CONFLICT' }, 'other fields: still 409')

  const forgot = await startIntake(t, { TICKET_FINGERPRINT_KEY: NEW }, prefix)
  t.equal((await postTicket(forgot.app, client, ticket)).statusCode, 202, 'with the old key forgotten: the ticket, not 409')
  const fresh = { ...ticket, TicketId: 'fp-new' }
  t.equal((await postTicket(forgot.app, client, fresh)).statusCode, 202)
  t.match((await postTicket(forgot.app, client, { ...fresh, Data: { Image: 'two' } })).json(), { Code: 'TICKET_CONFLICT' }, 'a ticket under the new key compares')
})

t.test('every JWT_SECRET and TICKET_FINGERPRINT_KEY written in the repository is refused in production (the deny-list is in step with the files)', async (t) => {
  const { execFileSync } = await import('node:child_process')
  const files = execFileSync('git', ['ls-files'], { cwd: WORKSPACE_ROOT, encoding: 'utf8' }).split('\n')
    .filter((f) => f !== '' && !f.endsWith('pnpm-lock.yaml') && !/\.(png|jpg|ico)$/.test(f))
  const found = new Set<string>()
  for (const f of files) {
    let text: string
    try { text = readFileSync(`${WORKSPACE_ROOT}/${f}`, 'utf8') } catch { continue }
    // JWT_SECRET: value, JWT_SECRET=value (TICKET_FINGERPRINT_KEY too), and the keys tests sign tokens with.
    for (const m of text.matchAll(/(?:JWT_SECRET|TICKET_FINGERPRINT(?:_PREVIOUS)?_KEY)['"]?\s*[:=]\s*['"]?([^'"\s,}`)]+)/g)) found.add(m[1] ?? '')
    for (const m of text.matchAll(/\bkey:\s*'([^']{8,})'/g)) found.add(m[1] ?? '')
  }
  const literal = [...found].filter((v) => v !== '' && !/^(\$|…|\[|process\.|env\.|randomBytes|secret$)/.test(v))
  t.ok(literal.length >= 2, `found ${literal.length} secret values in the repository`)
  for (const value of literal) t.throws(() => assertProductionSecret(value), /JWT_SECRET/, `refused: ${value.slice(0, 12)}…`)
  t.ok(PUBLIC_SECRETS.includes(DEVELOPMENT_JWT_SECRET))
  t.ok(PUBLIC_SECRETS.includes(DEVELOPMENT_FINGERPRINT_KEY))
})

t.test('failed logins are limited per username and address over both doors, per username, and per address', async (t) => {
  const { app } = await startIntake(t, { LOGIN_RATE_LIMIT_MAX: '3', LOGIN_USER_RATE_LIMIT_MAX: '5', LOGIN_ADDRESS_RATE_LIMIT_MAX: '6' })
  // Two doors, one count: two misses on the API and one on the dashboard.
  t.equal((await tryLogin(app, 'demo-client', 'wrong-1')).statusCode, 401)
  t.equal((await tryLogin(app, 'demo-client', 'wrong-2')).statusCode, 401)
  t.equal((await adminFormLogin(app, 'demo-client', 'wrong-3')).statusCode, 401)
  const limited = await tryLogin(app, 'demo-client', 'demo-client-secret')
  t.equal(limited.statusCode, 429, 'the right password is refused once the pair is over its limit')
  t.ok(Number(limited.headers['retry-after']) >= 1, 'Retry-After says when')
  t.equal((await adminFormLogin(app, 'demo-client', 'demo-client-secret')).statusCode, 429, 'the dashboard door is limited too')

  // Another address may still log in as that user: one address cannot lock a user out.
  t.equal((await tryLogin(app, 'demo-client', 'demo-client-secret', '10.0.0.2')).statusCode, 200)
  // Per username over all addresses: 3 + 2 misses reach 5.
  t.equal((await tryLogin(app, 'demo-client', 'wrong', '10.0.0.3')).statusCode, 401)
  t.equal((await tryLogin(app, 'demo-client', 'wrong', '10.0.0.4')).statusCode, 401)
  t.equal((await tryLogin(app, 'demo-client', 'demo-client-secret', '10.0.0.5')).statusCode, 429, 'a distributed guess is bounded per username')

  // Per address over all usernames: spraying from one address.
  for (let i = 0; i < 6; i++) t.equal((await tryLogin(app, `sprayed-${i}`, 'guess', '10.0.0.9')).statusCode, 401)
  t.equal((await tryLogin(app, 'demo-admin', 'demo-admin-secret', '10.0.0.9')).statusCode, 429, 'an address spraying usernames is stopped')
  t.equal((await tryLogin(app, 'demo-admin', 'demo-admin-secret', '10.0.0.10')).statusCode, 200, 'others are not')
})

t.test('failed logins stay limited while Redis is unreachable', { skip: hasRedisServer() ? false : 'redis-server is not installed' }, async (t) => {
  const redis = await startPrivateRedis()
  t.teardown(async () => redis.destroy())
  const { app } = await startIntake(t, { REDIS_URL: redis.url, LOGIN_RATE_LIMIT_MAX: '2' })
  await redis.stop(true)
  await waitFor('the intake to notice', () => !app.redis.isReady(), 5000)
  t.equal((await tryLogin(app, 'demo-client', 'wrong')).statusCode, 401)
  t.equal((await tryLogin(app, 'demo-client', 'wrong')).statusCode, 401)
  t.equal((await tryLogin(app, 'demo-client', 'demo-client-secret')).statusCode, 429, 'counted in memory: still limited')
  await redis.restart()
})

t.test('password hashing runs at most LOGIN_HASH_CONCURRENCY at once', async (t) => {
  const { app } = await startIntake(t, { LOGIN_HASH_CONCURRENCY: '2' })
  let running = 0
  let most = 0
  await Promise.all(Array.from({ length: 10 }, async () => app.loginGuard.hashing(async () => {
    running++
    most = Math.max(most, running)
    await new Promise((resolve) => setImmediate(resolve))
    running--
  })))
  t.equal(most, 2)
  const many = await Promise.all(Array.from({ length: 8 }, async () => tryLogin(app, 'demo-client', 'demo-client-secret', `10.1.0.${Math.random() * 200 | 0}`)))
  t.ok(many.every((r) => r.statusCode === 200), 'logins wait for a slot rather than fail')
})
