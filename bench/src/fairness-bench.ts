// Fair sharing, measured: client A floods a product (20 ms per ticket) with 5,000 tickets, then
// client B submits 20. B's median submit-to-record against B alone, with Fairness "client" and "fifo".
import { randomUUID } from 'node:crypto'
import { Redis } from 'ioredis'
import { createSigner } from 'fast-jwt'
import { DEVELOPMENT_JWT_SECRET } from '@request-out/runtime'
import { watchRecords } from '@request-out/record-store'
import { freePort, spawnApp, spawnWorker, waitFor, writeCatalog } from '@request-out/test-support'
import { percentile } from './report.js'
import { ticketKey } from '@request-out/redis-keys'

const PREFIX = 'bench-fair'
const FLOOD = 5000
const B_TICKETS = 20
const products = {
  client: { Subject: 'bench', SubjectType: 'fair', SubjectIdentifier: 'client' },
  fifo: { Subject: 'bench', SubjectType: 'fair', SubjectIdentifier: 'fifo' }
}

export interface FairnessResult { aloneP50Ms: number, fairP50Ms: number, fifoP50Ms: number, fairRatio: number, fifoRatio: number }

export async function fairnessRow (redisUrl: string, log: (msg: string) => void): Promise<FairnessResult> {
  const catalog = writeCatalog([
    { ...products.client, Name: 'fair', Kind: 'sandbox', Concurrency: 10, Fairness: 'client', Sandbox: { LatencyMs: 20 } },
    { ...products.fifo, Name: 'fifo', Kind: 'sandbox', Concurrency: 10, Fairness: 'fifo', Sandbox: { LatencyMs: 20 } }
  ])
  const port = await freePort()
  const env = { REDIS_URL: redisUrl, QUEUE_PREFIX: PREFIX, PRODUCTS_FILE: catalog, LOG_LEVEL: 'warn', RATE_LIMIT_MAX: '10000000', MAX_QUEUE_DEPTH: '100000000' }
  const intake = spawnApp('intake', { ...env, PORT: String(port) })
  const worker = await spawnWorker(env)
  const recordedAt = new Map<string, number>()
  const connection = new Redis(redisUrl)
  const watcher = await watchRecords(connection, PREFIX, (key) => { if (!recordedAt.has(key)) recordedAt.set(key, Date.now()) })
  try {
    await waitFor('the fairness intake', async () => (await fetch(`http://127.0.0.1:${port}/health/ready`)).ok, 30_000, 100)
    const sign = createSigner({ key: DEVELOPMENT_JWT_SECRET, iss: 'request-out', aud: 'request-out', expiresIn: 3_600_000 })
    const tokenOf = (sub: string, role: string): string => sign({ sub, role, jti: randomUUID() })
    const a = tokenOf('demo-client', 'client')
    const b = tokenOf('demo-admin', 'admin')
    const post = async (token: string, product: Record<string, string>, id: string): Promise<void> => {
      const res = await fetch(`http://127.0.0.1:${port}/v1/request-out`, {
        method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ ...product, TicketId: id })
      })
      if (res.status !== 202) throw new Error(`POST ${id}: ${res.status}`)
      await res.arrayBuffer()
    }
    /** B's 20 tickets, sent together; their median submit-to-record in ms. */
    const bRun = async (product: Record<string, string>, tag: string): Promise<number> => {
      const sentAt = new Map<string, number>()
      await Promise.all(Array.from({ length: B_TICKETS }, async (_, i) => {
        const id = `${tag}-${i}`
        sentAt.set(ticketKey('demo-admin', id), Date.now())
        await post(b, product, id)
      }))
      await waitFor(`B's tickets (${tag})`, () => [...sentAt.keys()].every((k) => recordedAt.has(k)), 300_000, 20)
      return percentile([...sentAt].map(([k, at]) => (recordedAt.get(k) ?? at) - at).sort((x, y) => x - y), 0.5)
    }
    const flood = async (product: Record<string, string>, tag: string): Promise<void> => {
      for (let i = 0; i < FLOOD; i += 100) await Promise.all(Array.from({ length: 100 }, async (_, j) => post(a, product, `${tag}-${i + j}`)))
    }
    log('fairness: client B alone')
    const alone = await bRun(products.client, 'alone')
    const results: Record<string, number> = {}
    for (const [mode, product] of Object.entries(products)) {
      log(`fairness (${mode}): client A floods ${FLOOD} tickets, then client B sends ${B_TICKETS}`)
      await flood(product, `flood-${mode}`)
      results[mode] = await bRun(product, `b-${mode}`)
      await waitFor(`A's flood to drain (${mode})`, () => [...recordedAt.keys()].filter((k) => k.includes(`flood-${mode}`)).length >= FLOOD, 300_000, 100)
    }
    const fair = results.client ?? Number.NaN
    const fifo = results.fifo ?? Number.NaN
    return { aloneP50Ms: alone, fairP50Ms: fair, fifoP50Ms: fifo, fairRatio: Math.round(fair / alone * 10) / 10, fifoRatio: Math.round(fifo / alone * 10) / 10 }
  } finally {
    await watcher.stop()
    connection.disconnect()
    await worker.stop()
    await intake.stop()
  }
}
