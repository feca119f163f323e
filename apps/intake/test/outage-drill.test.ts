import t, { type Test } from 'tap'
import { createServer, type Server } from 'node:http'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import { ProductNotAvailable, RequestOutClient } from '@request-out/client'
import { redisKeys } from '@request-out/redis-keys'
import { TEST_REDIS_URL, deleteKeys, freePort, spawnApp, spawnWorker, uniquePrefix, waitFor, writeCatalog, type AppProcess } from '@request-out/test-support'
import { readBreaker } from '@request-out/upstream-breaker'
import { tokenFor } from './helpers.js'

const OUTAGE_MS = 20_000
const OPEN_MS = 2000
const MAX_OPEN_MS = 4000
const BREAKER = { WindowMs: 5000, MinCalls: 10, ConsecutiveFailures: 10, OpenMs: OPEN_MS, MaxOpenMs: MAX_OPEN_MS }
const product = (identifier: string, url: string, mode: 'refuse' | 'queue') => ({
  Subject: 'drill',
  SubjectType: 'http',
  SubjectIdentifier: identifier,
  Name: identifier,
  Kind: 'http',
  Attempts: 5,
  Backoff: { DelayMs: 500, Jitter: 0 },
  TimeoutMs: 1000,
  Concurrency: 4,
  Http: { Url: url },
  Breaker: BREAKER,
  WhenUpstreamDown: mode
})
const REFUSE = 'drill/http/refuse'
const QUEUE = 'drill/http/queue'

interface Answer { product: string, ticketId: string, at: number, status: number, retryAfter: string | undefined, intake: number }

/**
 * The upstream of both products, on a port of its own: healthy, it creates one resource per
 * Idempotency-Key; down, the `refuse` product's path answers 503 and the `queue` product's drops
 * the connection (a network error). Every call is counted with its time.
 */
async function drillUpstream (t: Test) {
  let down = false
  const calls: Array<{ path: string, at: number }> = []
  const resources = new Map<string, string>()
  const server: Server = createServer((req, res) => {
    let raw = ''
    req.on('data', (c: Buffer) => { raw += c.toString() })
    req.on('end', () => {
      calls.push({ path: req.url ?? '', at: Date.now() })
      if (down) {
        if (req.url === '/queue') req.socket.destroy()
        else res.writeHead(503, { 'content-type': 'application/json' }).end('{"Message":"down"}')
        return
      }
      const key = String(req.headers['idempotency-key'])
      if (!resources.has(key)) resources.set(key, String((JSON.parse(raw) as { TicketId: string }).TicketId))
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ResourceType: 'data', Resource: 'nik', ResourceId: key.slice(5, 20), Data: null }))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(async () => { server.closeAllConnections(); await new Promise((resolve) => server.close(resolve)) })
  const port = (server.address() as { port: number }).port
  return { base: `http://127.0.0.1:${port}`, calls, resources, setDown: (d: boolean) => { down = d } }
}

t.test('outage drill: two intakes, two workers, an upstream down for 20 s under steady load', async (t) => {
  const upstream = await drillUpstream(t)
  const prefix = uniquePrefix('drill')
  const catalog = writeCatalog([product('refuse', `${upstream.base}/refuse`, 'refuse'), product('queue', `${upstream.base}/queue`, 'queue')])
  const env = { REDIS_URL: TEST_REDIS_URL, QUEUE_PREFIX: prefix, PRODUCTS_FILE: catalog, LOG_LEVEL: 'warn' }
  const redis = new Redis(TEST_REDIS_URL)
  const keys = redisKeys(prefix)
  const apps: AppProcess[] = []
  t.teardown(async () => {
    await Promise.all(apps.map(async (a) => a.stop()))
    redis.disconnect()
    await deleteKeys(prefix)
  })
  const ports = [await freePort(), await freePort()]
  for (const port of ports) apps.push(spawnApp('intake', { ...env, PORT: String(port) }))
  apps.push(await spawnWorker(env), await spawnWorker(env))
  const bases = ports.map((p) => `http://127.0.0.1:${p}`)
  for (const base of bases) await waitFor('an intake', async () => (await fetch(`${base}/health/ready`).catch(() => undefined))?.ok === true, 30_000, 100)

  // The breakers as Redis holds them, every 50 ms: when each opened and closed.
  const timeline: Array<{ product: string, state: string, at: number, probeAt: number }> = []
  const run = { watching: true, loading: true }
  const watch = (async () => {
    const last = new Map<string, string>()
    while (run.watching) {
      for (const p of [REFUSE, QUEUE]) {
        // A failed probe opens it again within one poll: a new `since` is a new entry too.
        const { state, probeAt, since } = await readBreaker(redis, keys, p)
        if (last.get(p) !== `${state} ${since}`) timeline.push({ product: p, state, at: Date.now(), probeAt })
        last.set(p, `${state} ${since}`)
      }
      await sleep(50)
    }
  })()

  // Steady load: a new ticket of each product every 100 ms, alternately through the two intakes.
  const token = tokenFor('demo-client')
  const answers: Answer[] = []
  let n = 0
  const load = (async () => {
    while (run.loading) {
      const i = n++
      await Promise.all([REFUSE, QUEUE].map(async (p) => {
        const [Subject, SubjectType, SubjectIdentifier] = p.split('/')
        const ticketId = `${SubjectIdentifier}-${i}`
        const res = await fetch(`${bases[i % 2]}/v1/request-out`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ TicketId: ticketId, Subject, SubjectType, SubjectIdentifier })
        })
        await res.text()
        answers.push({ product: p, ticketId, at: Date.now(), status: res.status, retryAfter: res.headers.get('retry-after') ?? undefined, intake: i % 2 })
      }))
      await sleep(100)
    }
  })()

  await sleep(3000)
  const downAt = Date.now()
  upstream.setDown(true)
  const opened = await waitFor('both breakers to open', () => [REFUSE, QUEUE].every((p) => timeline.some((e) => e.product === p && e.state === 'open' && e.at > downAt)), 10_000)
  t.ok(opened)
  for (const p of [REFUSE, QUEUE]) {
    const at = timeline.find((e) => e.product === p && e.state === 'open' && e.at > downAt)?.at ?? Infinity
    t.ok(at - downAt <= BREAKER.WindowMs, `${p}: open ${at - downAt} ms after the upstream went down (within its window)`)
  }
  // The client's view of a refusal, typed.
  const typed = new RequestOutClient({ baseUrl: bases[0] ?? '', token })
  await sleep(1200)
  const refusal = await typed.submit({ TicketId: 'typed-while-open', Subject: 'drill', SubjectType: 'http', SubjectIdentifier: 'refuse' }).catch((e: unknown) => e)
  t.ok(refusal instanceof ProductNotAvailable && refusal.temporary && (refusal.retryAfterSeconds ?? 0) >= 1, 'the typed client throws ProductNotAvailable with its Retry-After: temporary')
  await sleep(Math.max(0, downAt + OUTAGE_MS - Date.now()))
  const upAt = Date.now()
  upstream.setDown(false)
  await waitFor('both breakers to close', () => [REFUSE, QUEUE].every((p) => timeline.some((e) => e.product === p && e.state === 'closed' && e.at > upAt)), MAX_OPEN_MS * 1.2 + 5000)
  await sleep(3000)
  run.loading = false
  await load

  for (const p of [REFUSE, QUEUE]) {
    const openAt = timeline.find((e) => e.product === p && e.state === 'open' && e.at > downAt)?.at ?? 0
    const closedAt = timeline.find((e) => e.product === p && e.state === 'closed' && e.at > upAt)?.at ?? Infinity
    t.ok(closedAt - upAt <= MAX_OPEN_MS * 1.2 + 1000, `${p}: closed ${closedAt - upAt} ms after the upstream came back (its open interval + 1 s at most)`)
    // Tries already running when it opened end theirs (their retries' backoff included, 1 s of grace); after that, only probes, one at a time.
    const path = p === REFUSE ? '/refuse' : '/queue'
    const whileOpen = upstream.calls.filter((c) => c.path === path && c.at > openAt + 1000 && c.at < upAt).map((c) => c.at)
    const gaps = whileOpen.slice(1).map((at, i) => at - (whileOpen[i] ?? 0))
    t.ok(whileOpen.length >= 2 && whileOpen.length <= OUTAGE_MS / OPEN_MS, `${p}: ${whileOpen.length} calls while open, all probes`)
    t.ok(gaps.every((g) => g >= OPEN_MS * 0.9), `${p}: one probe per open interval (gaps ${gaps.join(', ')} ms)`)
  }

  // refuse: every intake refused new tickets while open; queue: every ticket was accepted.
  const refuseOpen = timeline.filter((e) => e.product === REFUSE)
  // Open until its probe time (from then on it is half-open and accepts tickets to probe with).
  const openSpans = refuseOpen.flatMap((e, i) => e.state === 'open' ? [[e.at, Math.min(e.probeAt, refuseOpen[i + 1]?.at ?? Infinity)] as const] : [])
  // Answered well inside an open span (the intakes read the breaker every 400 ms): refused, with Retry-After.
  const inOpen = answers.filter((a) => a.product === REFUSE && openSpans.some(([from, to]) => a.at > from + 1000 && a.at < to - 500))
  t.ok(inOpen.length > 30, `${inOpen.length} new tickets were POSTed while the refuse product's breaker was open`)
  t.same([...new Set(inOpen.map((a) => `${a.status} ${a.retryAfter === undefined ? 'without' : 'with'} Retry-After`))], ['404 with Retry-After'], 'each answered 404 PRODUCT_NOT_AVAILABLE with Retry-After')
  t.same([...new Set(inOpen.map((a) => a.intake))].sort(), [0, 1], 'by both intakes')
  t.same([...new Set(answers.filter((a) => a.product === QUEUE).map((a) => a.status))], [202], 'queue: every ticket accepted')

  // After recovery every accepted ticket has exactly one record, and the upstream one resource.
  const accepted = answers.filter((a) => a.status === 202)
  const records = await waitFor('every accepted ticket\'s record', async () => {
    const got = await Promise.all(accepted.map(async (a) => await redis.hget(keys.ticket('demo-client', a.ticketId), 'rec')))
    return got.every((r) => r !== null) ? got : undefined
  }, 60_000, 500)
  const codes = records.map((r) => (JSON.parse(r ?? '{}') as { StatusCode: number }).StatusCode)
  t.same([...new Set(codes)], [200], `all ${accepted.length} accepted tickets completed: none ended PRODUCT_FAILED because of the outage`)
  const created = [...upstream.resources.values()]
  t.equal(created.length, accepted.length, 'one resource per accepted ticket')
  t.equal(new Set(created).size, created.length, 'no ticket twice')
  t.ok(answers.filter((a) => a.product === REFUSE && a.status === 202 && a.at > downAt + 1000 && a.at < upAt).length >= 1, 'tickets accepted while half-open ran too')
  run.watching = false
  await watch
})
