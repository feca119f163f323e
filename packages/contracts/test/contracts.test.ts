import t from 'tap'
import { readFileSync } from 'node:fs'
import { Value } from '@sinclair/typebox/value'
import {
  CatalogFile, ConfigError, IntakeEnv, TicketEnvelope, TicketRequest, completedEnvelope, notReadyEnvelope,
  parseEnv, parseProductKey, productKey
} from '../src/index.js'

const fixture = (name: string): unknown =>
  JSON.parse(readFileSync(new URL(`fixtures/${name}.json`, import.meta.url), 'utf8'))

t.test("the seed's request is a valid ticket", async (t) => {
  t.ok(Value.Check(TicketRequest, fixture('seed-request')))
})

t.test("the seed's success example is a valid envelope and what completedEnvelope builds", async (t) => {
  const seed = fixture('seed-success') as TicketEnvelope
  t.ok(Value.Check(TicketEnvelope, seed))
  const built = completedEnvelope(seed, {
    ResourceType: 'data', Resource: 'nik', ResourceId: '321231990', Data: { Image: 'ok', NIK: '12345678910', Status: 'ok' }
  })
  t.same(JSON.stringify(built), JSON.stringify(seed), 'same fields in the same order')
})

t.test("the seed's in-process example is what notReadyEnvelope builds, plus the Code", async (t) => {
  const seed = fixture('seed-in-process') as Record<string, unknown>
  t.ok(Value.Check(TicketEnvelope, seed))
  const { Code, ...rest } = notReadyEnvelope('IN_PROCESS')
  t.equal(Code, 'IN_PROCESS')
  t.same(Object.keys(rest), Object.keys(seed))
  t.same(rest, seed)
})

t.test('TicketId and name rules', async (t) => {
  const base = fixture('seed-request') as Record<string, unknown>
  const valid = ['1', '12345', 'a.b_c-d', 'x'.repeat(128)]
  const invalid = ['', 'x'.repeat(129), 'a b', 'a:b', 'a/b', 'ünï', '<script>', 'a\nb']
  for (const id of valid) t.ok(Value.Check(TicketRequest, { ...base, TicketId: id }), `valid ${JSON.stringify(id)}`)
  for (const id of invalid) t.notOk(Value.Check(TicketRequest, { ...base, TicketId: id }), `invalid ${JSON.stringify(id)}`)
  t.notOk(Value.Check(TicketRequest, { ...base, Subject: 'a/b' }), 'no slash in Subject')
  t.notOk(Value.Check(TicketRequest, { ...base, SubjectType: 'x'.repeat(65) }), 'SubjectType at most 64')
  t.notOk(Value.Check(TicketRequest, { ...base, Extra: 1 }), 'unknown fields refused')
  t.ok(Value.Check(TicketRequest, { ...base, Data: { NIK: '1' } }), 'Data object allowed')
  t.notOk(Value.Check(TicketRequest, { ...base, Data: 'x' }), 'Data must be an object')
})

t.test('product key round trip and queue placement', async (t) => {
  const ref = { Subject: 'digitalid', SubjectType: 'enrollment', SubjectIdentifier: 'ektp' }
  t.equal(productKey(ref), 'digitalid/enrollment/ektp')
  t.same(parseProductKey('digitalid/enrollment/ektp'), ref)
  t.equal(parseProductKey('a/b'), undefined)
  t.equal(parseProductKey('a//c'), undefined)
})

t.test('catalog file schema', async (t) => {
  t.ok(Value.Check(CatalogFile, {
    Products: [{ Subject: 'digitalid', SubjectType: 'enrollment', SubjectIdentifier: 'ektp', Name: 'x', Kind: 'sandbox' }]
  }))
  t.notOk(Value.Check(CatalogFile, { Products: [] }), 'at least one product')
  t.notOk(Value.Check(CatalogFile, {
    Products: [{ Subject: 'a', SubjectType: 'b', SubjectIdentifier: 'c', Name: 'x', Kind: 'ftp' }]
  }), 'unknown kind')
})

t.test('parseEnv applies defaults, converts, and names a bad variable', async (t) => {
  const env = parseEnv(IntakeEnv, { PORT: '8080', TRUST_PROXY: 'true' })
  t.equal(env.PORT, 8080)
  t.equal(env.TRUST_PROXY, true)
  t.equal(env.REDIS_URL, 'redis://127.0.0.1:6379')
  t.equal(env.RECORD_TTL_SECONDS, 604800)
  t.throws(() => parseEnv(IntakeEnv, { PORT: 'eighty' }), ConfigError)
  t.throws(() => parseEnv(IntakeEnv, { PORT: '99999', JWT_SECRET: '', QUEUE_PREFIX: '{x}' }), /PORT.*QUEUE_PREFIX|QUEUE_PREFIX.*PORT/,
    'every bad variable is named')
})
