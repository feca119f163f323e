import t from 'tap'
import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyInstance } from 'fastify'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createSigner } from 'fast-jwt'
import { TEST_REDIS_URL, WORKSPACE_ROOT, uniquePrefix, waitFor } from '@request-out/test-support'
import { loadIntakeConfig } from '../src/config.js'
import { SEED_TICKET, getTicket, login, postTicket, startIntake } from './helpers.js'

const claims = { sub: 'ext-client', role: 'client' }

t.test('production refuses demo users and missing or short secrets', async (t) => {
  const base = { NODE_ENV: 'production', REDIS_URL: TEST_REDIS_URL }
  t.throws(() => loadIntakeConfig(base), /JWT_SECRET: required in production/)
  t.throws(() => loadIntakeConfig({ ...base, JWT_SECRET: 'short' }), /JWT_SECRET: must be at least 32/)
  t.throws(() => loadIntakeConfig({ ...base, JWT_SECRET: randomBytes(32).toString('base64') }), /AUTH_USERS_FILE: required in production/)
  t.throws(() => loadIntakeConfig({ PORT: 'http' }), /PORT/)
  t.throws(() => loadIntakeConfig({ NODE_ENV: 'prod' }), /NODE_ENV: must be one of development, production, test \(got "prod"\)/,
    'a bad value of a list names the allowed values')
  let message = ''
  try { loadIntakeConfig({ LOG_LEVEL: 'loud' }) } catch (err) { message = (err as Error).message }
  t.equal(message.split('LOG_LEVEL').length, 2, `each variable is named once: ${message}`)
  t.throws(() => loadIntakeConfig({ PRODUCTS_FILE: '/nonexistent/products.json' }), /PRODUCTS_FILE/)
  const dev = loadIntakeConfig({ REDIS_URL: TEST_REDIS_URL })
  t.match(dev.warnings.join('\n'), /demo users/)
})

t.test('the intake process stops with a message naming a bad variable', async (t) => {
  const r = spawnSync(process.execPath, ['apps/intake/dist/main.js'], { cwd: WORKSPACE_ROOT, env: { ...process.env, PORT: 'eighty' }, encoding: 'utf8' })
  t.equal(r.status, 1)
  t.match(r.stderr, /PORT/)
})

for (const [kind, options, algorithm] of [
  ['RS256', { type: 'rsa', modulusLength: 2048 }, 'RS256'],
  ['ES256', { type: 'ec', namedCurve: 'P-256' }, 'ES256'],
  ['EdDSA', { type: 'ed25519' }, 'EdDSA']
] as const) {
  t.test(`external tokens verified with a ${kind} public key; HS/RS confusion refused`, async (t) => {
    const { publicKey, privateKey } = (generateKeyPairSync as (type: string, o: object) => { publicKey: { export: (o: object) => string }, privateKey: { export: (o: object) => string } })(options.type, { ...options, publicKeyEncoding: undefined })
    const pub = publicKey.export({ type: 'spki', format: 'pem' })
    const priv = privateKey.export({ type: 'pkcs8', format: 'pem' })
    const { app } = await startIntake(t, { JWT_PUBLIC_KEY: pub, JWT_ISSUER: 'user-access', JWT_AUDIENCE: 'request-out' })
    const sign = (key: string, alg: string, extra: object = {}): string =>
      createSigner({ key, algorithm: alg as 'RS256', iss: 'user-access', aud: 'request-out', expiresIn: 60_000, ...extra })(claims)
    t.equal((await postTicket(app, sign(priv, algorithm), SEED_TICKET)).statusCode, 202, 'a token of the external service works')
    t.equal((await postTicket(app, sign(pub, 'HS256'), SEED_TICKET)).statusCode, 401, 'public key used as an HMAC secret: refused')
    t.equal((await postTicket(app, sign(priv, algorithm, { iss: 'evil' }), SEED_TICKET)).statusCode, 401, 'wrong issuer refused')
    const login = await app.inject({ method: 'POST', url: '/v1/auth/login', payload: { Username: 'demo-client', Password: 'demo-client-secret' } })
    t.equal(login.statusCode, 404, 'no built-in login in external-token mode')
  })
}

t.test('defects #25.1: a password change, or a removal and re-creation, ends the user\'s older tokens on every intake', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'rotest-users-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'users.json')
  const cli = join(WORKSPACE_ROOT, 'apps/intake/dist/users-cli.js')
  const add = (password: string, force = true): void => { execFileSync(process.execPath, [cli, 'add', 'alice', '--role', 'client', '--file', file, ...(force ? ['--force'] : [])], { input: `${password}\n` }) }
  // A token's iat has whole seconds: a change is dated in the second after the token's.
  const nextSecond = async (): Promise<void> => { await sleep(1100 - (Date.now() % 1000)) }
  add('alice-password-1', false)
  t.match(JSON.parse(readFileSync(file, 'utf8')).Users[0], { Username: 'alice', ChangedAt: /^\d{4}-\d{2}-\d{2}T/ }, 'the CLI dates the change')
  const prefix = uniquePrefix('rotate')
  const one = await startIntake(t, { AUTH_USERS_FILE: file, AUTH_USERS_POLL_MS: '100' }, prefix)
  const two = await startIntake(t, { AUTH_USERS_FILE: file, AUTH_USERS_POLL_MS: '100' }, prefix)
  const old = await login(one.app, 'alice', 'alice-password-1')
  const status = async (app: FastifyInstance, token: string): Promise<number> => (await getTicket(app, token, 'rotate-1')).statusCode
  t.equal(await status(two.app, old), 404, 'the token works on both intakes (404: no such ticket yet)')

  await nextSecond()
  add('alice-password-2')
  for (const { app } of [one, two]) await waitFor('the intake to refuse the older token', async () => await status(app, old) === 401, 5000, 50)
  t.pass('a password change ends the older token on every intake, without a restart')
  const fresh = await login(two.app, 'alice', 'alice-password-2')
  t.equal(await status(one.app, fresh), 404, 'a token issued after the change works')

  await nextSecond()
  execFileSync(process.execPath, [cli, 'remove', 'alice', '--file', file])
  await waitFor('the removal to be seen', async () => await status(one.app, fresh) === 401, 5000, 50)
  await nextSecond()
  add('alice-password-3', false)
  await waitFor('the re-created user to be seen', async () => (await one.app.inject({ method: 'POST', url: '/v1/auth/login', payload: { Username: 'alice', Password: 'alice-password-3' } })).statusCode === 200, 5000, 50)
  for (const { app } of [one, two]) t.equal(await status(app, fresh), 401, 'a token of the removed user does not come back with the new one')

  // A file without ChangedAt (written before this change) still loads and refuses nothing more.
  writeFileSync(file, JSON.stringify({ Users: JSON.parse(readFileSync(file, 'utf8')).Users.map(({ ChangedAt: _c, ...u }: Record<string, unknown>) => u) }))
  await waitFor('the undated file to be read', async () => await status(one.app, fresh) === 404, 5000, 50)
  t.pass('without ChangedAt, older tokens are not refused for it')
})

t.test('the users CLI writes scrypt hashes the login accepts', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'rotest-users-'))
  const file = join(dir, 'users.json')
  const cli = join(WORKSPACE_ROOT, 'apps/intake/dist/users-cli.js')
  execFileSync(process.execPath, [cli, 'add', 'alice', '--role', 'client', '--products', 'digitalid/enrollment/ektp', '--file', file], { input: 'alice-password-1\n' })
  execFileSync(process.execPath, [cli, 'add', 'root', '--role', 'admin', '--file', file], { env: { ...process.env, USER_PASSWORD: 'root-password-12' } })
  const stored = readFileSync(file, 'utf8')
  t.notMatch(stored, /alice-password-1/, 'no clear password in the file')
  t.match(stored, /scrypt\$/)
  const short = spawnSync(process.execPath, [cli, 'add', 'bob', '--role', 'client', '--file', file], { input: 'short\n', encoding: 'utf8' })
  t.equal(short.status, 2, 'a short password is refused')
  t.match(execFileSync(process.execPath, [cli, 'list', '--file', file], { encoding: 'utf8' }), /alice\tclient\tdigitalid\/enrollment\/ektp/)

  const run = (args: string[], input = 'another-password-1\n') => spawnSync(process.execPath, [cli, ...args], { input, encoding: 'utf8', env: { ...process.env, AUTH_USERS_FILE: '' } })
  const help = run(['--help'])
  t.equal(help.status, 0, '--help exits 0')
  t.match(help.stdout, /usage:/)
  const unknownFlag = run(['add', 'x', '--rol', 'client', '--file', file])
  t.equal(unknownFlag.status, 2, 'an unknown flag exits 2')
  t.match(unknownFlag.stderr, /--rol.*\(request-out-users --help for usage\)\n$/)
  t.equal(unknownFlag.stderr.trim().split('\n').length, 1, 'in one line, as the README says (defects #25.18)')
  t.notMatch(unknownFlag.stderr, /at .*\.js:\d+/, 'with a message, not a stack trace')
  const again = run(['add', 'alice', '--role', 'client', '--file', file], 'short\n')
  t.equal(again.status, 2, 'adding an existing user is refused')
  t.match(again.stderr, /alice exists already .*--force/, 'before the password is looked at (defects #25.18)')
  t.equal(run(['add', '--file', file]).stderr.trim().split('\n').length, 1, 'a missing username: one line')
  t.equal(run(['frobnicate', '--file', file]).stderr.trim().split('\n').length, 1, 'an unknown command: one line')
  t.match(readFileSync(file, 'utf8'), /digitalid\/enrollment\/ektp/, 'and alice keeps her product limit')
  const badProduct = run(['add', 'carol', '--role', 'client', '--products', 'no/such/product', '--file', file])
  t.equal(badProduct.status, 2, 'an unknown product key is refused')
  t.match(badProduct.stderr, /unknown product no\/such\/product/)
  const missing = run(['list', '--file', `${file}.missing`])
  t.equal(missing.status, 2, 'listing a missing file exits 2')
  t.match(missing.stderr, /no users file/)
  const forced = run(['add', 'root', '--role', 'admin', '--file', file, '--force'], 'root-password-13\n')
  t.equal(forced.status, 0, '--force replaces a user')
  t.match(forced.stdout, /replaced/)

  const { app } = await startIntake(t, { AUTH_USERS_FILE: file })
  const token = await login(app, 'alice', 'alice-password-1')
  t.equal((await postTicket(app, token, SEED_TICKET)).statusCode, 202)
  t.equal((await app.inject({ method: 'POST', url: '/v1/auth/login', payload: { Username: 'demo-client', Password: 'demo-client-secret' } })).statusCode, 401,
    'no demo users once a users file is given')
  writeFileSync(file, '{"Users": [{"Username": "x"}]}')
  t.throws(() => loadIntakeConfig({ AUTH_USERS_FILE: file }), /AUTH_USERS_FILE .*PasswordHash|AUTH_USERS_FILE/, 'a bad users file stops the start, naming the variable')
})
