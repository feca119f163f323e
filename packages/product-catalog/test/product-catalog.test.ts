import t from 'tap'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CatalogError, DEFAULT_CATALOG, loadCatalog, parseCatalog, retryPolicy } from '../src/index.js'

const file = (content: string): string => {
  const path = join(mkdtempSync(join(tmpdir(), 'rotest-cat-')), 'products.json')
  writeFileSync(path, content)
  return path
}

t.test('the default catalog holds the sandbox product with its settings', async (t) => {
  const catalog = loadCatalog(undefined)
  const p = catalog.get('digitalid/enrollment/ektp')
  t.ok(p)
  t.match(p, { kind: 'sandbox', concurrency: 50, attempts: 3, timeoutMs: 10_000, initiallyAvailable: true })
  t.same(p?.personalFields.sort(), ['Image', 'NIK'])
  t.same(retryPolicy.jobOptions(p!), { attempts: 3, backoff: { type: 'exponential', delay: 1000, jitter: 0.5 } })
  t.equal(DEFAULT_CATALOG.Products.length, 1)
})

t.test("the README's example catalog loads, with environment substitution", async (t) => {
  const path = file(JSON.stringify({
    Products: [
      { Subject: 'digitalid', SubjectType: 'enrollment', SubjectIdentifier: 'ektp', Name: 'e-KTP', Kind: 'sandbox', Concurrency: 50, Attempts: 3, TimeoutMs: 10000, Sandbox: { LatencyMs: 0 } },
      {
        Subject: 'digitalid',
        SubjectType: 'verification',
        SubjectIdentifier: 'nik',
        Name: 'NIK verification',
        Kind: 'http',
        Concurrency: 20,
        Attempts: 5,
        TimeoutMs: 5000,
        RateLimit: { Max: 100, DurationMs: 1000 },
        // eslint-disable-next-line no-template-curly-in-string -- the catalog's own ${NAME} placeholder
        Http: { Url: 'http://127.0.0.1:4000/verify', Headers: { 'x-api-key': '${NIK_API_KEY}' } }
      }
    ]
  }))
  const catalog = loadCatalog(path, { NIK_API_KEY: 'k-123' })
  t.same(catalog.keys(), ['digitalid/enrollment/ektp', 'digitalid/verification/nik'])
  t.same(catalog.get('digitalid/verification/nik')?.definition.Http?.Headers, { 'x-api-key': 'k-123' })
  t.same(catalog.get('digitalid/verification/nik')?.rateLimit, { max: 100, durationMs: 1000 })
  t.throws(() => loadCatalog(path, {}), /NIK_API_KEY is not set/)
})

t.test('the upstream breaker: on by default with the schema\'s defaults, partly set, or off', async (t) => {
  const base = { Subject: 'a', SubjectType: 'b', SubjectIdentifier: 'c', Name: 'x', Kind: 'sandbox' }
  const defaults = parseCatalog({ Products: [base] }).get('a/b/c')
  t.same(defaults?.breaker, { windowMs: 30_000, minCalls: 10, failureRatio: 0.5, consecutiveFailures: 10, openMs: 30_000, maxOpenMs: 300_000 })
  t.equal(defaults?.whenUpstreamDown, 'refuse')
  const partly = parseCatalog({ Products: [{ ...base, Breaker: { OpenMs: 5000 }, WhenUpstreamDown: 'queue' }] }).get('a/b/c')
  t.match(partly, { breaker: { openMs: 5000, maxOpenMs: 300_000, windowMs: 30_000 }, whenUpstreamDown: 'queue' })
  t.equal(parseCatalog({ Products: [{ ...base, Breaker: false }] }).get('a/b/c')?.breaker, undefined, 'Breaker: false turns it off')
  t.throws(() => parseCatalog({ Products: [{ ...base, Breaker: { OpenMs: 60_000, MaxOpenMs: 1000 } }] }), /\/Breaker\/MaxOpenMs: must be at least OpenMs/)
  t.throws(() => parseCatalog({ Products: [{ ...base, Breaker: { FailureRatio: 0 } }] }), /Breaker/)
  t.throws(() => parseCatalog({ Products: [{ ...base, WhenUpstreamDown: 'drop' }] }), /WhenUpstreamDown/)
})

t.test('a bad catalog stops with a message naming the entry', async (t) => {
  const bad = (products: unknown[]): unknown => ({ Products: products })
  const base = { Subject: 'a', SubjectType: 'b', SubjectIdentifier: 'c', Name: 'x', Kind: 'sandbox' }
  t.throws(() => parseCatalog(bad([base, { ...base, SubjectIdentifier: 'd', Concurrency: 0 }])), /Products\[1\] \(a\/b\/d\) \/Concurrency/)
  t.throws(() => parseCatalog(bad([{ ...base, Kind: 'ftp' }])), /Products\[0\] \(a\/b\/c\) \/Kind/)
  t.throws(() => parseCatalog(bad([{ ...base, Kind: 'http' }])), /Kind "http" needs an "Http" section/)
  t.throws(() => parseCatalog(bad([base, base])), /declared twice/)
  t.throws(() => parseCatalog(bad([{ ...base, Subject: 'a/b' }])), /Products\[0\].*\/Subject/)
  t.throws(() => parseCatalog({ Products: [] }), CatalogError)
  t.throws(() => loadCatalog(file('{ not json')), /cannot be read as JSON/)
})

t.test('config/products.example.json is a valid catalog', async (t) => {
  const catalog = loadCatalog(new URL('../../../config/products.example.json', import.meta.url).pathname, { NIK_API_KEY: 'x' })
  t.same(catalog.keys(), ['digitalid/enrollment/ektp', 'digitalid/verification/nik'])
})

t.test('the retry policy: defaults from the catalog schema, what retries, what is final', async (t) => {
  const [p] = parseCatalog({ Products: [{ Subject: 'a', SubjectType: 'b', SubjectIdentifier: 'c', Name: 'n', Kind: 'sandbox', Backoff: { DelayMs: 200 } }] }).list()
  t.match(p, { attempts: 3, concurrency: 10, timeoutMs: 30_000, initiallyAvailable: true, backoff: { delayMs: 200, jitter: 0.5 } }, 'defaults filled in once, from the schema')
  t.same(retryPolicy.jobOptions(p!), { attempts: 3, backoff: { type: 'exponential', delay: 200, jitter: 0.5 } })
  t.same([200, 204, 400, 404, 408, 422, 425, 429, 500, 503].map((s) => retryPolicy.upstreamOutcome(s)),
    ['result', 'result', 'rejected', 'rejected', 'retry', 'rejected', 'retry', 'retry', 'retry', 'retry'])
  t.equal(retryPolicy.isLastAttempt(2, 3), false)
  t.equal(retryPolicy.isLastAttempt(3, 3), true)
  t.equal(retryPolicy.isLastAttempt(1, undefined), true, 'a job without attempts has one try')
  t.same(['SUCCESS', 'PRODUCT_REJECTED', 'PRODUCT_FAILED', null].map((c) => retryPolicy.isFinalRecord(c)), [true, true, false, false])
})
