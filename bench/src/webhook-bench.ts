// Webhook deliveries to one client's endpoint, with the shipped defaults (WEBHOOK_TIMEOUT_MS,
// WEBHOOK_MAX_IN_FLIGHT, WEBHOOK_CONCURRENCY): how many a second a healthy receiver gets against the
// records the same pipeline stores, and whether a receiver that stalls on 5 % of them (past the
// timeout) at the soak's 100 tickets/s leaves a backlog. The receiver counts the deliveries open at
// once, which must stay within WEBHOOK_MAX_IN_FLIGHT.
import { randomUUID } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import { createSigner } from 'fast-jwt'
import { WorkerEnv } from '@request-out/contracts'
import { watchRecords } from '@request-out/record-store'
import { DEVELOPMENT_JWT_SECRET } from '@request-out/runtime'
import { parseTicketKey } from '@request-out/redis-keys'
import { freePort, spawnApp, waitFor, type AppProcess } from '@request-out/test-support'
import type { LoadResult } from './load-run.js'
import { cpuNanos } from './report.js'

const PREFIX = 'bench-webhooks'
const CLIENT = 'demo-client'
const SEED = { Subject: 'digitalid', SubjectType: 'enrollment', SubjectIdentifier: 'ektp' }
const STALL_RATE = 100
const STALL_SECONDS = 20
const STALL_SHARE = 0.05
/** The shipped cap, read from the env schema the workers apply. */
const CAP = Number(WorkerEnv.properties.WEBHOOK_MAX_IN_FLIGHT.default)

export interface WebhookBenchResult {
  /** Healthy receiver: records stored a second and deliveries a second (each from its first to its last), and their ratio (≥ 1: keeps up). */
  pipelineTicketsPerSecond: number
  deliveriesPerSecond: number
  ratioToPipeline: number
  /** Both workers' CPU over the healthy phase (records and their deliveries), µs a ticket. */
  workerCpuMicrosPerTicket: number
  /** s from the last record to its delivery. */
  lagAfterLastRecordSeconds: number
  /** Deliveries the receiver held open at once, at most (healthy / stalling), and the cap. */
  maxInFlightHealthy: number
  maxInFlightStalling: number
  maxInFlightCap: number
  /** 5 % stalls at 100 tickets/s: deliveries not made at the last POST (stalled ones waiting for their retry not counted), and that in seconds of tickets. */
  stallBacklogAtLastPost: number
  stallBacklogSeconds: number
  /** s from the last POST until every ticket was delivered (stalled ones included, after their retry). */
  stallAllDeliveredSeconds: number
  stalled: number
}

type Load = (spec: Record<string, unknown>) => Promise<LoadResult>

/** The receiver: answers 204 at once, or holds the request until the sender gives up when `stalls(id)`. */
async function receiver (): Promise<{ url: string, delivered: Map<string, number>, stalledIds: Set<string>, stallWhen: (f: (id: string) => boolean) => void, maxOpen: () => number, resetMax: () => void, close: () => Promise<void> }> {
  const delivered = new Map<string, number>()
  const stalledIds = new Set<string>()
  let stalls: (id: string) => boolean = () => false
  let open = 0
  let max = 0
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    open++
    max = Math.max(max, open)
    let done = false
    const finish = (): void => { if (!done) { done = true; open-- } }
    res.on('close', finish)
    let body = ''
    req.on('data', (c: Buffer) => { body += c.toString() })
    req.on('end', () => {
      const id = (JSON.parse(body) as { data: { TicketId: string } }).data.TicketId
      // A stall holds the first delivery only: the retry is answered.
      if (!stalledIds.has(id) && stalls(id)) {
        stalledIds.add(id)
        return
      }
      if (!delivered.has(id)) delivered.set(id, Date.now())
      res.writeHead(204).end()
    })
  })
  server.keepAliveTimeout = 60_000
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`,
    delivered,
    stalledIds,
    stallWhen: (f) => { stalls = f },
    maxOpen: () => max,
    resetMax: () => { max = open },
    close: async () => {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    }
  }
}

export async function webhookRow (redisUrl: string, load: Load, log: (msg: string) => void): Promise<WebhookBenchResult> {
  const hooks = await receiver()
  const port = await freePort()
  const env = { REDIS_URL: redisUrl, QUEUE_PREFIX: PREFIX, LOG_LEVEL: 'warn', RATE_LIMIT_MAX: '10000000', MAX_QUEUE_DEPTH: '100000000', WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true' }
  const procs: AppProcess[] = [spawnApp('intake', { ...env, PORT: String(port) }), spawnApp('worker', { ...env, LOG_LEVEL: 'info' }), spawnApp('worker', { ...env, LOG_LEVEL: 'info' })]
  const recordedAt = new Map<string, number>()
  const watcherConnection = new Redis(redisUrl)
  const watcher = await watchRecords(watcherConnection, PREFIX, (key) => { if (!recordedAt.has(key)) recordedAt.set(key, Date.now()) })
  const base = `http://127.0.0.1:${port}`
  try {
    await waitFor('the webhook intake', async () => (await fetch(`${base}/health/ready`)).ok, 30_000, 100)
    await Promise.all(procs.slice(1).map(async (w) => w.waitForLine((l) => l.msg === 'worker started', 30_000)))
    const token = createSigner({ key: DEVELOPMENT_JWT_SECRET, iss: 'request-out', aud: 'request-out', expiresIn: 3_600_000 })({ sub: CLIENT, role: 'client', jti: randomUUID() })
    const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' }
    const put = await fetch(`${base}/v1/webhook`, { method: 'PUT', headers: auth, body: JSON.stringify({ Url: hooks.url }) })
    if (put.status !== 201) throw new Error(`webhook registration answered ${put.status}`)
    // The dispatchers read endpoints once a second.
    await sleep(1500)
    // Ids `<prefix>-<n>` (the load generator adds the dash): `wh-` and `ws-` tell the phases apart.
    const spec = (prefix: string, seconds: number, rate = 0): Record<string, unknown> =>
      ({ url: `${base}/v1/request-out`, connections: rate > 0 ? 10 : 50, durationSeconds: seconds, method: 'POST', headers: auth, ticket: SEED, ticketPrefix: prefix.slice(0, -1), rate })

    // Each phase by its tickets' ids: a load run's count leaves out requests still in flight when
    // it stopped, which may be accepted all the same.
    const idOf = (key: string): string => parseTicketKey(key)?.ticketId ?? ''
    const phase = (prefix: string): Array<[string, number]> => [...recordedAt].map(([key, at]): [string, number] => [idOf(key), at]).filter(([id]) => id.startsWith(prefix))
    const everyDelivered = async (prefix: string, accepted: number): Promise<void> => {
      await waitFor(`every ${prefix} record`, () => phase(prefix).length >= accepted, 120_000, 100)
      await waitFor(`every ${prefix} delivery`, () => phase(prefix).every(([id]) => hooks.delivered.has(id)), 240_000, 100)
    }

    log('webhooks: a healthy receiver, POST for 10 s with 2 workers, until every delivery is made')
    const workersCpu = (): number => procs.slice(1).reduce((sum, w) => sum + cpuNanos(w.pid), 0)
    const cpuBefore = workersCpu()
    const healthy = await load(spec('wh-', 10))
    await everyDelivered('wh-', healthy.total - healthy.non2xx)
    const records = phase('wh-')
    const workerCpuMicros = (workersCpu() - cpuBefore) / 1000 / Math.max(1, records.length)
    const recordTimes = records.map(([, at]) => at)
    const deliveryTimes = records.map(([id]) => hooks.delivered.get(id) ?? 0)
    const lastRecord = Math.max(...recordTimes)
    const lastDelivery = Math.max(...deliveryTimes)
    // Rates over each one's own window, first to last: deliveries that keep up a constant lag behind
    // the records run at the records' rate (over the POSTs' window, the lag alone would count against them).
    const pipelineTps = records.length / ((lastRecord - Math.min(...recordTimes)) / 1000)
    const deliveryRate = records.length / ((lastDelivery - Math.min(...deliveryTimes)) / 1000)
    const maxInFlightHealthy = hooks.maxOpen()

    log(`webhooks: ${STALL_SHARE * 100} % of first deliveries stall past the timeout, ${STALL_RATE} tickets/s for ${STALL_SECONDS} s`)
    hooks.resetMax()
    hooks.stallWhen(() => Math.random() < STALL_SHARE)
    const stalling = await load(spec('ws-', STALL_SECONDS, STALL_RATE))
    const lastPost = Date.now()
    // At the last POST: tickets with a record and no delivery, but for those whose first delivery
    // stalled (they wait for their retry by design), and but for the last second's (in flight).
    const backlog = phase('ws-').filter(([id, at]) => at < lastPost - 1000 && !hooks.delivered.has(id) && !hooks.stalledIds.has(id)).length
    await everyDelivered('ws-', stalling.total - stalling.non2xx)
    const allDelivered = Date.now()
    return {
      pipelineTicketsPerSecond: Math.round(pipelineTps),
      deliveriesPerSecond: Math.round(deliveryRate),
      ratioToPipeline: Math.round(deliveryRate / pipelineTps * 100) / 100,
      workerCpuMicrosPerTicket: Math.round(workerCpuMicros),
      lagAfterLastRecordSeconds: Math.round((lastDelivery - lastRecord) / 100) / 10,
      maxInFlightHealthy,
      maxInFlightStalling: hooks.maxOpen(),
      maxInFlightCap: CAP,
      stallBacklogAtLastPost: backlog,
      stallBacklogSeconds: Math.round(backlog / STALL_RATE * 10) / 10,
      stallAllDeliveredSeconds: Math.round((allDelivered - lastPost) / 100) / 10,
      stalled: hooks.stalledIds.size
    }
  } finally {
    await watcher.stop()
    watcherConnection.disconnect()
    await Promise.all(procs.map(async (p) => p.stop('SIGTERM')))
    await hooks.close()
  }
}
