// Redrive at scale: 5,000 tickets end PRODUCT_FAILED while their upstream is down; once it is
// back a redrive sends them all back. How long until every one is queued again (and has its new
// record), and what it does to other clients' POSTs: their p99 while it runs against idle.
import { randomUUID } from 'node:crypto'
import { Redis } from 'ioredis'
import { createSigner } from 'fast-jwt'
import { productKey } from '@request-out/contracts'
import { DEVELOPMENT_JWT_SECRET } from '@request-out/runtime'
import { redisKeys } from '@request-out/redis-keys'
import { switchableUpstream } from './switchable-upstream.js'
import { freePort, spawnApp, spawnWorker, waitFor, writeCatalog } from '@request-out/test-support'

const PREFIX = 'bench-redrive'
const TICKETS = 5000
const FAILING = { Subject: 'bench', SubjectType: 'redrive', SubjectIdentifier: 'failing' }
const OTHER = { Subject: 'bench', SubjectType: 'redrive', SubjectIdentifier: 'other' }

export interface RedriveBenchResult {
  tickets: number
  secondsToQueueAll: number
  secondsToAllRecords: number
  otherPostP99IdleMs: number
  otherPostP99DuringMs: number
  otherPostP99Ratio: number
}

type Load = (spec: Record<string, unknown>) => Promise<{ latencyP99: number, non2xx: number, total: number }>

export async function redriveRow (redisUrl: string, load: Load, log: (msg: string) => void): Promise<RedriveBenchResult> {
  const upstream = await switchableUpstream(true)
  const catalog = writeCatalog([
    { ...FAILING, Name: 'failing', Kind: 'http', Attempts: 1, Breaker: false, Concurrency: 50, TimeoutMs: 2000, Http: { Url: `${upstream.base}/verify` } },
    { ...OTHER, Name: 'other', Kind: 'sandbox', Concurrency: 50 }
  ])
  const port = await freePort()
  const env = { REDIS_URL: redisUrl, QUEUE_PREFIX: PREFIX, PRODUCTS_FILE: catalog, LOG_LEVEL: 'warn', RATE_LIMIT_MAX: '10000000', MAX_QUEUE_DEPTH: '100000000' }
  const intake = spawnApp('intake', { ...env, PORT: String(port) })
  const workers = [await spawnWorker(env), await spawnWorker(env)]
  const redis = new Redis(redisUrl)
  const keys = redisKeys(PREFIX)
  const base = `http://127.0.0.1:${port}`
  try {
    await waitFor('the redrive intake', async () => (await fetch(`${base}/health/ready`)).ok, 30_000, 100)
    const sign = createSigner({ key: DEVELOPMENT_JWT_SECRET, iss: 'request-out', aud: 'request-out', expiresIn: 3_600_000 })
    const client = { authorization: `Bearer ${sign({ sub: 'demo-client', role: 'client', jti: randomUUID() })}`, 'content-type': 'application/json' }
    const admin = { authorization: `Bearer ${sign({ sub: 'demo-admin', role: 'admin', jti: randomUUID() })}`, 'content-type': 'application/json' }
    log(`redrive: ${TICKETS} tickets end PRODUCT_FAILED while their upstream is down`)
    for (let from = 0; from < TICKETS; from += 500) {
      const res = await fetch(`${base}/v1/request-out/batch`, { method: 'POST', headers: client, body: JSON.stringify({ Tickets: Array.from({ length: 500 }, (_, i) => ({ ...FAILING, TicketId: `f-${from + i}` })) }) })
      await res.arrayBuffer()
    }
    await waitFor('every ticket failed', async () => await redis.zcard(keys.failed(productKey(FAILING))) >= TICKETS, 300_000, 200)
    const other = (tag: string): Record<string, unknown> =>
      ({ url: `${base}/v1/request-out`, connections: 10, durationSeconds: 5, method: 'POST', headers: client, ticket: OTHER, ticketPrefix: tag })
    await load(other('warm'))
    const idle = await load(other('idle'))
    upstream.setDown(false)
    log('redrive: the upstream is back; redrive them all while other clients POST')
    const started = Date.now()
    const res = await fetch(`${base}/v1/admin/redrives`, { method: 'POST', headers: admin, body: JSON.stringify({ Product: productKey(FAILING), DryRun: false }) })
    const { Data } = await res.json() as { Data: { RedriveId: string, Selected: number } }
    const state = async (): Promise<Record<string, unknown>> => ((await (await fetch(`${base}/v1/admin/redrives/${Data.RedriveId}`, { headers: admin })).json()) as { Data: Record<string, unknown> }).Data
    const [during, queuedAt] = await Promise.all([
      load(other('during')),
      waitFor('every ticket queued again', async () => (await state()).State !== 'running' ? Date.now() : undefined, 300_000, 100)
    ])
    const doneAt = await waitFor('every new record', async () => (await state()).State === 'done' ? Date.now() : undefined, 300_000, 200)
    return {
      tickets: Data.Selected,
      secondsToQueueAll: Math.round((queuedAt - started) / 100) / 10,
      secondsToAllRecords: Math.round((doneAt - started) / 100) / 10,
      otherPostP99IdleMs: idle.latencyP99,
      otherPostP99DuringMs: during.latencyP99,
      otherPostP99Ratio: Math.round(during.latencyP99 / Math.max(1, idle.latencyP99) * 100) / 100
    }
  } finally {
    redis.disconnect()
    await Promise.all(workers.map(async (w) => w.stop()))
    await intake.stop()
    await upstream.close()
  }
}
