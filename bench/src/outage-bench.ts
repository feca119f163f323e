// The outage drill, measured: two products on one upstream, the same but for the breaker (on, and
// `Breaker: false` as the baseline), both WhenUpstreamDown "queue", under 40 tickets/s each; the
// upstream answers 503 for 10 s. Per product: calls the dead upstream received after the breaker's
// window (what the breaker spares it), tickets lost (no 200 record in the end), and the seconds
// from the upstream's return to the breaker closed.
import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import { createSigner } from 'fast-jwt'
import { productKey } from '@request-out/contracts'
import { DEVELOPMENT_JWT_SECRET } from '@request-out/runtime'
import { redisKeys } from '@request-out/redis-keys'
import { TicketField } from '@request-out/record-store'
import { switchableUpstream } from './switchable-upstream.js'
import { freePort, spawnApp, spawnWorker, waitFor, writeCatalog } from '@request-out/test-support'

const PREFIX = 'bench-outage'
const OUTAGE_MS = 10_000
const RATE_PER_PRODUCT = 40
const BREAKER = { WindowMs: 5000, MinCalls: 10, ConsecutiveFailures: 10, OpenMs: 1000, MaxOpenMs: 2000 }
const GUARDED = { Subject: 'bench', SubjectType: 'outage', SubjectIdentifier: 'guarded' }
const BARE = { Subject: 'bench', SubjectType: 'outage', SubjectIdentifier: 'bare' }

export interface OutageResult {
  /** Calls the dead upstream received from 1 s after the breaker opened until it came back: probes only. */
  guardedCallsWhileDown: number
  /** The same span for the product without a breaker: every retry of every ticket. */
  bareCallsWhileDown: number
  guardedLost: number
  bareLost: number
  accepted: number
  secondsToClose: number
}

export async function outageRow (redisUrl: string, log: (msg: string) => void): Promise<OutageResult> {
  const upstream = await switchableUpstream(false)
  const { calls, base } = upstream
  const product = (p: typeof GUARDED, breaker: unknown): Record<string, unknown> => ({
    ...p,
    Name: p.SubjectIdentifier,
    Kind: 'http',
    Attempts: 5,
    Backoff: { DelayMs: 500, Jitter: 0 },
    TimeoutMs: 1000,
    Concurrency: 10,
    Http: { Url: `${base}/${p.SubjectIdentifier}` },
    Breaker: breaker,
    WhenUpstreamDown: 'queue'
  })
  const catalog = writeCatalog([product(GUARDED, BREAKER), product(BARE, false)])
  const port = await freePort()
  const env = { REDIS_URL: redisUrl, QUEUE_PREFIX: PREFIX, PRODUCTS_FILE: catalog, LOG_LEVEL: 'warn', RATE_LIMIT_MAX: '10000000', MAX_QUEUE_DEPTH: '100000000' }
  const intake = spawnApp('intake', { ...env, PORT: String(port) })
  const workers = [await spawnWorker(env), await spawnWorker(env)]
  const redis = new Redis(redisUrl)
  const keys = redisKeys(PREFIX)
  try {
    await waitFor('the outage intake', async () => (await fetch(`http://127.0.0.1:${port}/health/ready`)).ok, 30_000, 100)
    const token = createSigner({ key: DEVELOPMENT_JWT_SECRET, iss: 'request-out', aud: 'request-out', expiresIn: 3_600_000 })({ sub: 'demo-client', role: 'client', jti: randomUUID() })
    const accepted: Array<{ product: string, id: string }> = []
    const state = { loading: true }
    let n = 0
    const load = (async () => {
      const start = Date.now()
      while (state.loading) {
        const i = n++
        await Promise.all([GUARDED, BARE].map(async (p) => {
          const id = `${p.SubjectIdentifier}-${i}`
          const res = await fetch(`http://127.0.0.1:${port}/v1/request-out`, {
            method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ ...p, TicketId: id })
          })
          await res.arrayBuffer()
          if (res.status === 202) accepted.push({ product: productKey(p), id })
        }))
        const wait = start + n * (1000 / RATE_PER_PRODUCT) - Date.now()
        if (wait > 0) await sleep(wait)
      }
    })()
    log(`outage drill: ${RATE_PER_PRODUCT} tickets/s per product, the upstream answers 503 for ${OUTAGE_MS / 1000} s`)
    await sleep(2000)
    const downAt = Date.now()
    upstream.setDown(true)
    const openedAt = await waitFor('the breaker to open', async () => (await redis.hget(keys.breaker(productKey(GUARDED)), 'state')) === 'open' ? Date.now() : undefined, 10_000, 20)
    await sleep(Math.max(0, downAt + OUTAGE_MS - Date.now()))
    const upAt = Date.now()
    upstream.setDown(false)
    const closedAt = await waitFor('the breaker to close', async () => (await redis.hget(keys.breaker(productKey(GUARDED)), 'state')) === 'closed' ? Date.now() : undefined, 30_000, 20)
    await sleep(2000)
    state.loading = false
    await load
    const lost = async (product: string): Promise<number> => {
      const mine = accepted.filter((a) => a.product === product)
      await waitFor(`every ${product} ticket's record`, async () => {
        const codes = await Promise.all(mine.map(async (a) => await redis.hget(keys.ticket('demo-client', a.id), TicketField.code)))
        return codes.every((c) => c !== null)
      }, 120_000, 500)
      const records = await Promise.all(mine.map(async (a) => await redis.hget(keys.ticket('demo-client', a.id), TicketField.record)))
      return records.filter((r) => (JSON.parse(r ?? '{}') as { StatusCode?: number }).StatusCode !== 200).length
    }
    const whileDown = (path: string): number => calls.filter((c) => c.path === path && c.at > openedAt + 1000 && c.at < upAt).length
    return {
      guardedCallsWhileDown: whileDown('/guarded'),
      bareCallsWhileDown: whileDown('/bare'),
      guardedLost: await lost(productKey(GUARDED)),
      bareLost: await lost(productKey(BARE)),
      accepted: accepted.length,
      secondsToClose: Math.round((closedAt - upAt) / 100) / 10
    }
  } finally {
    redis.disconnect()
    await Promise.all(workers.map(async (w) => w.stop()))
    await intake.stop()
    await upstream.close()
  }
}
