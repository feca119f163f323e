// Long polls at scale: one intake holding 10,000 `Prefer: wait=30` GETs at once (loopback,
// bounded). Memory per held request, how soon each is answered once its record is stored (records
// landing at a pipeline's pace), and what holding them does to other requests' latency.
import { Agent, request } from 'node:http'
import { randomUUID } from 'node:crypto'
import { Redis } from 'ioredis'
import { createSigner } from 'fast-jwt'
import { DEVELOPMENT_JWT_SECRET } from '@request-out/runtime'
import { freePort, spawnApp, waitFor, writeCatalog } from '@request-out/test-support'
import { memoryOf, percentile } from './report.js'
import { holdTickets } from './held-tickets.js'

const PREFIX = 'bench-poll'
const HELD = 10_000
const CLIENT = 'demo-client'
// No worker serves it: the tickets wait until the bench stores their records itself.
const PRODUCT = { Subject: 'bench', SubjectType: 'poll', SubjectIdentifier: 'held' }

export interface LongPollResult {
  held: number
  answered: number
  kbPerHeldRequest: number
  wakeP50Ms: number
  wakeP99Ms: number
  otherIdleP99Ms: number
  otherHeldP99Ms: number
  otherP99Ratio: number
}

type Load = (spec: Record<string, unknown>) => Promise<{ latencyP99: number, non2xx: number }>

export async function longPollRow (redisUrl: string, load: Load, log: (msg: string) => void): Promise<LongPollResult> {
  const catalog = writeCatalog([{ ...PRODUCT, Name: 'held', Kind: 'sandbox' }])
  const port = await freePort()
  const intake = spawnApp('intake', { REDIS_URL: redisUrl, QUEUE_PREFIX: PREFIX, PRODUCTS_FILE: catalog, LOG_LEVEL: 'warn', RATE_LIMIT_MAX: '10000000', MAX_QUEUE_DEPTH: '100000000', PORT: String(port) })
  const redis = new Redis(redisUrl)
  const agent = new Agent({ keepAlive: false, maxSockets: Infinity })
  try {
    const base = `http://127.0.0.1:${port}`
    await waitFor('long-poll intake', async () => (await fetch(`${base}/health/ready`)).ok, 30_000, 100)
    const token = createSigner({ key: DEVELOPMENT_JWT_SECRET, iss: 'request-out', aud: 'request-out', expiresIn: 3_600_000 })({ sub: CLIENT, role: 'client', jti: randomUUID() })
    const authorization = `Bearer ${token}`
    log(`long polls: ${HELD} tickets submitted, then one GET with Prefer: wait=30 held for each`)
    const held = await holdTickets(redis, PREFIX, base, authorization, CLIENT, PRODUCT, 'held', HELD)
    const idle = await load(held.other)
    const rssBefore = memoryOf(intake.pid).rssMb

    const answeredAt = new Map<string, number>()
    const answers: Array<Promise<void>> = []
    for (let i = 0; i < HELD; i++) {
      const id = `held-${i}`
      answers.push(new Promise<void>((resolve) => {
        const req = request(`${base}/v1/request-out/${id}`, { agent, headers: { authorization, prefer: 'wait=30' } }, (res) => {
          res.resume()
          res.on('end', () => {
            if (res.statusCode === 200) answeredAt.set(id, Date.now())
            resolve()
          })
        })
        req.on('error', () => resolve())
        req.end()
      }))
    }
    const heldNow = async (): Promise<number> => Number(/request_out_long_polls (\d+)/.exec(await (await fetch(`${base}/metrics`)).text())?.[1] ?? 0)
    await waitFor('every long poll held', async () => await heldNow() >= HELD, 20_000, 100)
    const rssHeld = memoryOf(intake.pid).rssMb
    const busy = await load(held.other)

    const storedAt = await held.storeAtPace(Array.from({ length: HELD }, (_, i) => `held-${i}`))
    await Promise.all(answers)
    const wakes = [...answeredAt].map(([id, at]) => at - (storedAt.get(id) ?? at)).sort((a, b) => a - b)
    return {
      held: HELD,
      answered: answeredAt.size,
      kbPerHeldRequest: Math.round((rssHeld - rssBefore) * 1024 / HELD * 10) / 10,
      wakeP50Ms: percentile(wakes, 0.5),
      wakeP99Ms: percentile(wakes, 0.99),
      otherIdleP99Ms: idle.latencyP99,
      otherHeldP99Ms: busy.latencyP99,
      otherP99Ratio: Math.round(busy.latencyP99 / Math.max(1, idle.latencyP99) * 100) / 100
    }
  } finally {
    agent.destroy()
    redis.disconnect()
    await intake.stop('SIGTERM')
  }
}
