import t from 'tap'
import fc from 'fast-check'
import type { FastifyInstance, InjectOptions } from 'fastify'
import { SANDBOX, SEED_TICKET, startIntake, tokenFor, signToken } from './helpers.js'

const RUNS = 2000

/** Every answer is the API's envelope: JSON, StatusCode equal to the HTTP status, a Code on failures, never a 5xx. */
function checkEnvelope (status: number, body: string, contentType: string | undefined): string | undefined {
  if (status >= 500) return `answered ${status}`
  if (!(contentType ?? '').startsWith('application/json')) return `content-type ${String(contentType)}`
  let parsed: Record<string, unknown>
  try {
    parsed = JSON.parse(body) as Record<string, unknown>
  } catch {
    return 'body is not JSON'
  }
  if (parsed.StatusCode !== status) return `StatusCode ${String(parsed.StatusCode)} != ${status}`
  if (typeof parsed.Message !== 'string' || !('Data' in parsed)) return 'no Message or Data'
  if (status >= 400 && typeof parsed.Code !== 'string') return 'no Code on a failure'
  return undefined
}

const anyJson = fc.oneof(
  fc.jsonValue({ maxDepth: 4 }),
  fc.dictionary(fc.constantFrom('TicketId', 'Subject', 'SubjectType', 'SubjectIdentifier', 'Data', '__proto__', 'constructor', 'prototype', 'Extra'),
    fc.oneof(fc.string({ unit: 'binary', maxLength: 140 }), fc.integer(), fc.constant(null), fc.boolean(), fc.jsonValue({ maxDepth: 2 })))
)

/** Tickets that are valid, almost valid, or wildly not: the interesting part of the input space. */
const ticketish = fc.record({
  TicketId: fc.oneof(fc.stringMatching(/^[A-Za-z0-9._-]{1,128}$/), fc.string({ unit: 'binary', maxLength: 200 }), fc.nat().map(String), fc.integer()),
  Subject: fc.oneof(fc.constant('digitalid'), fc.string({ unit: 'grapheme', maxLength: 70 })),
  SubjectType: fc.oneof(fc.constant('enrollment'), fc.string({ maxLength: 70 })),
  SubjectIdentifier: fc.oneof(fc.constant('ektp'), fc.string({ maxLength: 70 })),
  Data: fc.option(fc.oneof(
    fc.record({ NIK: fc.oneof(fc.stringMatching(/^\d{16}$/), fc.string({ maxLength: 40 })) }),
    fc.jsonValue({ maxDepth: 3 })
  ), { nil: undefined })
}, { requiredKeys: [] })

const rawBodies = fc.oneof(
  anyJson.map((v) => JSON.stringify(v) ?? 'null'),
  ticketish.map((v) => JSON.stringify(v)),
  fc.string({ unit: 'binary', maxLength: 300 }),
  // duplicate keys: the last one wins in JSON.parse; the result must still be judged as a whole
  fc.tuple(fc.string({ maxLength: 20 }), fc.string({ maxLength: 20 })).map(([a, b]) =>
    `{"TicketId":${JSON.stringify(a)},"TicketId":${JSON.stringify(b)},"Subject":"digitalid","SubjectType":"enrollment","SubjectIdentifier":"ektp"}`),
  fc.constantFrom('{"__proto__":{"admin":true}}', '{"constructor":{"prototype":{"x":1}}}', '{', '[]', 'null', '""', '{"a":1}}', '\u0000', '\ufeff{}'),
  fc.integer({ min: 1, max: 5000 }).map((depth) => `${'['.repeat(depth)}${']'.repeat(depth)}`),
  fc.integer({ min: 1, max: 3000 }).map((depth) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`),
  fc.integer({ min: 15_000, max: 40_000 }).map((n) => JSON.stringify({ ...SEED_TICKET, Data: { Image: 'x'.repeat(n) } }))
)

const contentTypes = fc.constantFrom(
  'application/json', 'application/json; charset=utf-8', 'APPLICATION/JSON', 'text/plain', 'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x', 'application/xml', 'application/json; charset=latin1', '', 'application/jsonx', '*/*'
)

function authHeaders (): fc.Arbitrary<Record<string, string>> {
  return fc.oneof<fc.Arbitrary<{ authorization?: string }>[]>(
    fc.constant({ authorization: `Bearer ${tokenFor('fuzz-client')}` }),
    fc.constant({ authorization: `Bearer ${tokenFor('fuzz-admin', 'admin')}` }),
    fc.constant({}),
    fc.string({ unit: 'binary', maxLength: 300 }).map((s) => ({ authorization: `Bearer ${s}` })),
    fc.string({ maxLength: 300 }).map((s) => ({ authorization: s })),
    fc.jsonValue().map((claims) => ({ authorization: `Bearer ${signToken(typeof claims === 'object' && claims !== null && !Array.isArray(claims) ? claims : { v: claims })}` }))
  ).map((h) => {
    // Headers must be sendable: drop characters HTTP forbids in header values.
    const value = h.authorization?.replace(/[^\t\x20-\x7e]/g, '')
    return value === undefined ? {} as Record<string, string> : { authorization: value }
  })
}

const extraHeaders = fc.dictionary(
  fc.constantFrom('x-request-id', 'prefer', 'accept', 'x-forwarded-for', 'accept-encoding', 'x-anything', 'cookie'),
  fc.string({ maxLength: 200 }).map((s) => s.replace(/[^\t\x20-\x7e]/g, '')),
  { maxKeys: 3 }
).map((h) => ('prefer' in h ? { ...h, prefer: 'wait=0' } : h))

async function property (t: { equal: (a: unknown, b: unknown, message: string) => unknown }, app: FastifyInstance, name: string, requests: fc.Arbitrary<InjectOptions>): Promise<void> {
  let checked = 0
  await fc.assert(fc.asyncProperty(requests, async (request) => {
    const res = await app.inject(request)
    checked++
    const problem = checkEnvelope(res.statusCode, res.body, res.headers['content-type'] as string | undefined)
    if (problem !== undefined) throw new Error(`${problem}: ${res.statusCode} ${res.body.slice(0, 300)}`)
  }), { numRuns: RUNS })
  t.equal(checked, RUNS, `${name}: ${RUNS} generated requests, every answer an envelope with a code, no 5xx`)
}

t.test('generated hostile requests never break the contract', async (t) => {
  const { app } = await startIntake(t, { RATE_LIMIT_MAX: '1000000', LOGIN_RATE_LIMIT_MAX: '100000' })
  const accepted = new Set<string>()
  const ticketRequest = fc.record({ body: rawBodies, type: contentTypes, auth: authHeaders(), extra: extraHeaders })

  let checked = 0
  await fc.assert(fc.asyncProperty(ticketRequest, async ({ body, type, auth, extra }) => {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/request-out',
      payload: body,
      headers: { ...extra, ...auth, ...(type === '' ? {} : { 'content-type': type }) }
    })
    checked++
    const problem = checkEnvelope(res.statusCode, res.body, res.headers['content-type'] as string | undefined)
    if (problem !== undefined) throw new Error(`${problem}: ${res.statusCode} ${res.body.slice(0, 300)}`)
    if (res.statusCode === 202) accepted.add(String((JSON.parse(res.body) as { TicketId: string }).TicketId) + '|' + (auth.authorization ?? ''))
  }), { numRuns: RUNS })
  t.equal(checked, RUNS, `POST /v1/request-out: ${RUNS} generated requests, every answer an envelope with a code, no 5xx`)
  const counts = await app.ticketQueues.queueFor(SANDBOX)?.getJobCounts('waiting', 'delayed', 'active', 'prioritized')
  const jobs = Object.values(counts ?? {}).reduce((a, b) => a + b, 0)
  t.equal(jobs, accepted.size, `nothing enqueued without a 202 (${accepted.size} accepted tickets, ${jobs} jobs)`)

  await property(t, app, 'GET /v1/request-out/{TicketId}', fc.record({
    id: fc.oneof(fc.stringMatching(/^[A-Za-z0-9._-]{1,128}$/), fc.string({ unit: 'binary', maxLength: 200 })),
    auth: authHeaders(),
    extra: extraHeaders,
    query: fc.oneof(fc.constant(''), fc.string({ maxLength: 50 }).map((s) => `?ClientId=${encodeURIComponent(s)}`), fc.constant('?x=1&ClientId='))
  }).map(({ id, auth, extra, query }) => ({ method: 'GET' as const, url: `/v1/request-out/${encodeURIComponent(id)}${query}`, headers: { ...extra, ...auth } })))

  await property(t, app, 'POST /v1/auth/login', fc.record({
    body: fc.oneof(rawBodies, fc.record({ Username: fc.string({ maxLength: 40 }), Password: fc.string({ maxLength: 40 }) }, { requiredKeys: [] }).map((v) => JSON.stringify(v))),
    type: contentTypes,
    extra: extraHeaders
  }).map(({ body, type, extra }) => ({ method: 'POST' as const, url: '/v1/auth/login', payload: body, headers: { ...extra, ...(type === '' ? {} : { 'content-type': type }) } })))

  await property(t, app, 'GET /v1/products', fc.record({ auth: authHeaders(), extra: extraHeaders })
    .map(({ auth, extra }) => ({ method: 'GET' as const, url: '/v1/products', headers: { ...extra, ...auth } })))

  await property(t, app, 'PUT /v1/products/…/availability', fc.record({
    path: fc.oneof(fc.constant(SANDBOX), fc.tuple(fc.string({ maxLength: 20 }), fc.string({ maxLength: 20 }), fc.string({ maxLength: 20 })).map((p) => p.map(encodeURIComponent).join('/'))),
    body: fc.oneof(rawBodies, fc.record({ Available: fc.oneof(fc.boolean(), fc.string()), Reason: fc.option(fc.string({ maxLength: 300 }), { nil: undefined }) }, { requiredKeys: [] }).map((v) => JSON.stringify(v))),
    type: contentTypes,
    auth: authHeaders()
  }).map(({ path, body, type, auth }) => ({
    method: 'PUT' as const, url: `/v1/products/${path}/availability`, payload: body, headers: { ...auth, ...(type === '' ? {} : { 'content-type': type }) }
  })))

  t.equal((await app.inject({ method: 'GET', url: '/health/live' })).statusCode, 200, 'the app is still up')
})
