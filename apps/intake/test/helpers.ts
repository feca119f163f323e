import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { createSigner } from 'fast-jwt'
import { TEST_REDIS_URL, deleteKeys, uniquePrefix } from '@request-out/test-support'
import { waitForRedis } from '@request-out/redis-connection'
import { buildApp } from '../src/app.js'
import { DEVELOPMENT_JWT_SECRET, loadIntakeConfig, type IntakeConfig } from '../src/config.js'

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

/** The real intake on the test Redis under a prefix of its own, closed and cleaned up after the test. */
export async function startIntake (t: Teardown, env: Record<string, string> = {}, prefix = uniquePrefix('intake')): Promise<TestApp> {
  const config = loadIntakeConfig({ REDIS_URL: TEST_REDIS_URL, QUEUE_PREFIX: prefix, NODE_ENV: 'test', LOG_LEVEL: 'silent', ...env })
  const app = await buildApp(config, { logger: false })
  await app.ready()
  await waitForRedis(app.redis.producer, 5000)
  t.teardown(async () => {
    await app.close()
    await deleteKeys(prefix, config.env.REDIS_URL)
  })
  return { app, config, prefix }
}

export const signToken = (claims: Record<string, unknown>, options: Record<string, unknown> = {}): string =>
  createSigner({ key: DEVELOPMENT_JWT_SECRET, iss: 'request-out', aud: 'request-out', expiresIn: 60_000, ...options })(claims)

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
