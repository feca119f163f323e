import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { createSigner } from 'fast-jwt'
import type { UserRecord } from '@request-out/contracts'
import { TEST_REDIS_URL, deleteKeys, uniquePrefix, waitFor } from '@request-out/test-support'
import { waitForRedis } from '@request-out/redis-connection'
import { buildApp } from '../src/app.js'
import { intakeLoggerOptions } from '../src/logger.js'
import { loadIntakeConfig, type IntakeConfig } from '../src/config.js'
import { DEVELOPMENT_JWT_SECRET } from '../src/public-secrets.js'
import { DEMO_USERS } from '../src/user-directory.js'

interface Teardown { teardown: (fn: () => unknown) => void }

export const SEED_TICKET = {
  TicketId: '312d31-5a2cc51e-ec2a-4286-a44a-bb7a258703e3',
  Subject: 'digitalid',
  SubjectType: 'enrollment',
  SubjectIdentifier: 'ektp'
} as const

export const SANDBOX = 'digitalid/enrollment/ektp'

export interface TestApp {
  app: FastifyInstance
  config: IntakeConfig
  prefix: string
}

// Any user's password is demo-client-secret (the demo client's hash); most tests sign tokens directly.
const hashOf = (DEMO_USERS[0] as UserRecord).PasswordHash
const client = (Username: string, extra: Partial<UserRecord> = {}): UserRecord => ({ Username, Role: 'client', PasswordHash: hashOf, ...extra })

/**
 * The users the intake tests sign tokens for. In login mode the user directory decides who a token's
 * `sub` is, so every test identity is a user here.
 */
export const TEST_USERS: UserRecord[] = [
  ...DEMO_USERS,
  ...['client-a', 'client-b', 'c', 'racer', 'waiter', 'noisy', 'quiet', 'busy-client', 'lb-client', 'dash-client',
    'fuzz-client', 'cluster-client', 'x'].map((name) => client(name)),
  client('limited-client', { Products: ['other/product/key'] }),
  client('ops', { Role: 'admin' }),
  client('fuzz-admin', { Role: 'admin' })
]

/** Writes a users file (removed after the test) and returns its path. */
export function writeUsersFile (t: Teardown, users: UserRecord[] = TEST_USERS): string {
  const dir = mkdtempSync(join(tmpdir(), 'request-out-users-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'users.json')
  writeFileSync(file, JSON.stringify({ Users: users }))
  return file
}

/**
 * The real intake on the test Redis under a prefix of its own, closed and cleaned up after the test.
 * In login mode without an AUTH_USERS_FILE of the test's own, the users are TEST_USERS.
 */
export async function startIntake (
  t: Teardown, env: Record<string, string> = {}, prefix = uniquePrefix('intake'),
  options: { logLines?: Array<Record<string, unknown>>, beforeReady?: (app: TestApp['app']) => void } = {}
): Promise<TestApp> {
  const users = env.JWT_PUBLIC_KEY === undefined && env.AUTH_USERS_FILE === undefined ? { AUTH_USERS_FILE: writeUsersFile(t) } : {}
  const config = loadIntakeConfig({ REDIS_URL: TEST_REDIS_URL, QUEUE_PREFIX: prefix, NODE_ENV: 'test', LOG_LEVEL: 'silent', ...users, ...env })
  const lines = options.logLines
  // With `logLines`, the production logger options at LOG_LEVEL (info unless set), its lines parsed into the array.
  const app = await buildApp(config, lines === undefined
    ? { logger: false }
    : {
        logger: intakeLoggerOptions(env.LOG_LEVEL ?? 'info'),
        logStream: { write: (line: string) => { lines.push(JSON.parse(line) as Record<string, unknown>) } }
      })
  options.beforeReady?.(app)
  await app.ready()
  await waitForRedis(app.redis.producer, 5000)
  await waitFor('the revocation list to be read', () => app.revocations.loaded, 5000)
  t.teardown(async () => {
    await app.close()
    await deleteKeys(prefix, config.env.REDIS_URL)
  })
  return { app, config, prefix }
}

/** A token of the built-in login's kind (HS256, our issuer and audience, an id and an issue time). */
export const signToken = (claims: Record<string, unknown>, options: Record<string, unknown> = {}): string =>
  createSigner({ key: DEVELOPMENT_JWT_SECRET, iss: 'request-out', aud: 'request-out', expiresIn: 60_000, jti: randomUUID(), ...options })(claims)

export const tokenFor = (sub: string, role: 'client' | 'admin' = 'client', extra: Record<string, unknown> = {}): string =>
  signToken({ sub, role, ...extra })

export async function login (app: FastifyInstance, username: string, password: string): Promise<string> {
  const res = await app.inject({ method: 'POST', url: '/v1/auth/login', payload: { Username: username, Password: password } })
  if (res.statusCode !== 200) throw new Error(`login failed: ${res.statusCode} ${res.body}`)
  return (res.json() as { Data: { AccessToken: string } }).Data.AccessToken
}

export function postTicket (app: FastifyInstance, token: string, ticket: Record<string, unknown>, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
  return app.inject({ method: 'POST', url: '/v1/request-out', headers: { authorization: `Bearer ${token}`, ...headers }, payload: ticket })
}

export function getTicket (app: FastifyInstance, token: string, ticketId: string, headers: Record<string, string> = {}, query = ''): Promise<LightMyRequestResponse> {
  return app.inject({ method: 'GET', url: `/v1/request-out/${ticketId}${query}`, headers: { authorization: `Bearer ${token}`, ...headers } })
}

const HOUR_MS = 3_600_000

/**
 * Settings for a test that counts a small rate limit over several requests. Windows are aligned
 * to the epoch, so with the default minute a test that starts just before a minute ends sees a
 * fresh window half-way through (a CI run did); an hour's window entered with a minute to spare
 * holds for the whole test.
 */
export async function rateLimitWithin (max: number): Promise<Record<string, string>> {
  const left = HOUR_MS - (Date.now() % HOUR_MS)
  if (left < 60_000) await new Promise((resolve) => setTimeout(resolve, left + 50))
  return { RATE_LIMIT_MAX: String(max), RATE_LIMIT_WINDOW_MS: String(HOUR_MS) }
}
