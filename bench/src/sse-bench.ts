// Event streams at scale: one intake holding 10,000 open ticket event streams (SSE) at once
// (loopback, bounded). Memory per stream, how soon a record's event reaches its stream once stored
// (records landing at a pipeline's pace), what holding them does to other requests' latency, and
// what keeping EVENT_STREAM_RETENTION_SECONDS of events costs Redis per event.
import { Agent, request } from 'node:http'
import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import { createSigner } from 'fast-jwt'
import { DEVELOPMENT_JWT_SECRET } from '@request-out/runtime'
import { allTicketEvents, redisKeys } from '@request-out/redis-keys'
import { freePort, spawnApp, waitFor, writeCatalog } from '@request-out/test-support'
import { memoryOf, percentile } from './report.js'
import { holdTickets } from './held-tickets.js'

const PREFIX = 'bench-sse'
const STREAMS = 10_000
const CLIENT = 'demo-client'
const SSE_HOST = '127.0.0.2'
// No worker serves it: the tickets wait until the bench stores their records itself.
const PRODUCT = { Subject: 'bench', SubjectType: 'sse', SubjectIdentifier: 'watched' }

export interface SseResult {
  streams: number
  recordsSeen: number
  kbPerStream: number
  recordToEventP50Ms: number
  recordToEventP99Ms: number
  otherIdleP99Ms: number
  otherHeldP99Ms: number
  otherP99Ratio: number
  redisBytesPerEvent: number
}

type Load = (spec: Record<string, unknown>) => Promise<{ latencyP99: number, non2xx: number }>

export async function sseRow (redisUrl: string, load: Load, log: (msg: string) => void): Promise<SseResult> {
  const catalog = writeCatalog([{ ...PRODUCT, Name: 'watched', Kind: 'sandbox' }])
  const port = await freePort()
  const intake = spawnApp('intake', {
    REDIS_URL: redisUrl,
    QUEUE_PREFIX: PREFIX,
    PRODUCTS_FILE: catalog,
    LOG_LEVEL: 'warn',
    RATE_LIMIT_MAX: '10000000',
    MAX_QUEUE_DEPTH: '100000000',
    SSE_MAX_STREAMS_PER_CLIENT: String(STREAMS * 2),
    PORT: String(port),
    // Another loopback address than the long-poll row's: its 10,000 closed connections still hold
    // their ports (TIME_WAIT) towards 127.0.0.1 for a minute.
    HOST: SSE_HOST
  })
  const redis = new Redis(redisUrl)
  const agent = new Agent({ keepAlive: false, maxSockets: Infinity })
  const open: Array<() => void> = []
  try {
    const base = `http://${SSE_HOST}:${port}`
    await waitFor('event-stream intake', async () => (await fetch(`${base}/health/ready`)).ok, 30_000, 100)
    const token = createSigner({ key: DEVELOPMENT_JWT_SECRET, iss: 'request-out', aud: 'request-out', expiresIn: 3_600_000 })({ sub: CLIENT, role: 'client', jti: randomUUID() })
    const authorization = `Bearer ${token}`
    log(`event streams: ${STREAMS} tickets submitted, then one event stream held open for each`)
    const held = await holdTickets(redis, PREFIX, base, authorization, CLIENT, PRODUCT, 'watched', STREAMS)
    const idle = await load(held.other)
    const rssBefore = memoryOf(intake.pid).rssMb

    // Each stream is opened, its backlog (the accepted event) read, and kept; the arrival of its
    // record event is timed.
    const seenAt = new Map<string, number>()
    for (let i = 0; i < STREAMS; i++) {
      const id = `watched-${i}`
      const req = request(`${base}/v1/request-out/${id}/events`, { agent, headers: { authorization, accept: 'text/event-stream' } }, (res) => {
        res.setEncoding('utf8')
        // A frame may be cut between two chunks: the end of the last one is looked at again.
        let tail = ''
        res.on('data', (chunk: string) => {
          const text = tail + chunk
          if (!seenAt.has(id) && text.includes('event: record')) seenAt.set(id, Date.now())
          tail = text.slice(-16)
        })
        res.on('error', () => {})
      })
      req.on('error', () => {})
      req.end()
      open.push(() => req.destroy())
      // Opened as clients arrive, 1,000 a second: each open reads its ticket's group stream since
      // its acceptance (here, every ticket was accepted within the same two seconds).
      if (i % 100 === 99) await sleep(100)
    }
    const openNow = async (): Promise<number> => Number(/request_out_sse_streams\{route="ticket"\} (\d+)/.exec(await (await fetch(`${base}/metrics`)).text())?.[1] ?? 0)
    await waitFor('every stream open', async () => await openNow() >= STREAMS, 90_000, 200)
      .catch(async (err: Error) => { throw new Error(`${err.message}: ${await openNow()} open, ${intake.output().slice(-2000)}`) })
    // Opening read each ticket's group stream: its garbage is given a moment to be collected.
    await sleep(5000)
    const rssHeld = memoryOf(intake.pid).rssMb
    const busy = await load(held.other)

    // Records land at a pipeline's pace; each event's arrival is counted from its batch's send.
    const storedAt = await held.storeAtPace(Array.from({ length: STREAMS }, (_, i) => `watched-${i}`))
    await waitFor('every record event', () => seenAt.size >= STREAMS, 30_000, 100).catch(() => undefined)
    const delays = [...seenAt].map(([id, at]) => at - (storedAt.get(id) ?? at)).sort((a, b) => a - b)

    // What a kept event costs Redis: the streams' memory over their entries.
    const streams = allTicketEvents(redisKeys(PREFIX))
    let bytes = 0
    let entries = 0
    for (const s of streams) {
      bytes += Number(await redis.memory('USAGE', s, 'SAMPLES', '0') ?? 0)
      entries += await redis.xlen(s)
    }
    return {
      streams: STREAMS,
      recordsSeen: seenAt.size,
      kbPerStream: Math.round((rssHeld - rssBefore) * 1024 / STREAMS * 10) / 10,
      recordToEventP50Ms: percentile(delays, 0.5),
      recordToEventP99Ms: percentile(delays, 0.99),
      otherIdleP99Ms: idle.latencyP99,
      otherHeldP99Ms: busy.latencyP99,
      otherP99Ratio: Math.round(busy.latencyP99 / Math.max(1, idle.latencyP99) * 100) / 100,
      redisBytesPerEvent: Math.round(bytes / Math.max(1, entries))
    }
  } finally {
    for (const close of open) close()
    agent.destroy()
    redis.disconnect()
    await intake.stop('SIGTERM')
  }
}
