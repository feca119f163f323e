// The light load's tail: 200 tickets/s for 10 s through the intake and two workers, POST → record
// stored, against bare BullMQ at the same rate (add → record stored by a bare worker doing SET +
// PUBLISH, two workers as ours). Where ours goes, stage by stage, from light-stages.
import { setTimeout as sleep } from 'node:timers/promises'
import { Queue } from 'bullmq'
import { Redis } from 'ioredis'
import { watchRecords } from '@request-out/record-store'
import { redisKeys, ticketKey } from '@request-out/redis-keys'
import { spawnApp, waitFor } from '@request-out/test-support'
import { lightStages, type StageFigures } from './light-stages.js'
import { runNode } from './load-run.js'
import { percentile } from './report.js'

export interface LightResult {
  ratePerSecond: number
  tickets: number
  submitToRecordP50Ms: number
  submitToRecordP99Ms: number
  bareAddToRecordP50Ms: number
  bareAddToRecordP99Ms: number
  p50Ratio: number
  p99Ratio: number
  coldStartMaxMs: number
  bareColdStartMaxMs: number
  stages: Record<string, StageFigures>
}

const TICKETS = 2000
const EVERY_MS = 5
// One second at the same rate before each side's measured run, not counted: freshly started
// processes answer their first tickets 50-130 ms late (code not yet compiled, scripts not yet
// loaded into Redis, connections opening), about 40 tickets, which alone made the p99 of 2,000.
const WARM_UP = 200

/** Sends `count`, one every EVERY_MS, and resolves with each one's send time by key once all are sent. */
async function paced (count: number, send: (n: number) => string): Promise<Map<string, number>> {
  const sentAt = new Map<string, number>()
  const start = Date.now()
  for (let n = 0; n < count; n++) {
    const wait = start + n * EVERY_MS - Date.now()
    if (wait > 0) await sleep(wait)
    sentAt.set(send(n), Date.now())
  }
  return sentAt
}

const latencies = (sentAt: Map<string, number>, seenAt: Map<string, number>): number[] =>
  [...sentAt].map(([k, at]) => (seenAt.get(k) ?? at) - at).sort((a, b) => a - b)

export async function lightRow (opts: {
  redisUrl: string
  prefix: string
  env: Record<string, string>
  intakeUrl: string
  auth: Record<string, string>
  clientId: string
  product: string
  seed: Record<string, string>
  log: (msg: string) => void
}): Promise<LightResult> {
  const { redisUrl, prefix, env, auth, clientId, product, seed, log } = opts
  const admin = new Redis(redisUrl)
  const watcherConnection = new Redis(redisUrl)
  const recordedAt = new Map<string, number>()
  const watcher = await watchRecords(watcherConnection, prefix, (id) => { if (!recordedAt.has(id)) recordedAt.set(id, Date.now()) })
  const workers = [spawnApp('worker', { ...env, LOG_LEVEL: 'info' }), spawnApp('worker', { ...env, LOG_LEVEL: 'info' })]
  try {
    await Promise.all(workers.map(async (w) => w.waitForLine((l) => l.msg === 'worker started', 30_000)))
    log(`light load: ${1000 / EVERY_MS} tickets/s for ${TICKETS * EVERY_MS / 1000} s after ${WARM_UP * EVERY_MS / 1000} s not counted, submit-to-record latency`)
    const run = async (count: number, name: string): Promise<Map<string, number>> => {
      const sends: Array<Promise<unknown>> = []
      const sentAt = await paced(count, (n) => {
        const id = `${name}-${n}`
        sends.push(fetch(opts.intakeUrl, { method: 'POST', headers: auth, body: JSON.stringify({ ...seed, TicketId: id }) }).then(async (r) => r.arrayBuffer()))
        return ticketKey(clientId, id)
      })
      await Promise.all(sends)
      await waitFor('light records', () => [...sentAt.keys()].every((k) => recordedAt.has(k)), 60_000, 50)
      return sentAt
    }
    const warm = latencies(await run(WARM_UP, 'light-warm'), recordedAt)
    const sentAt = await run(TICKETS, 'light')
    const ours = latencies(sentAt, recordedAt)
    const queueKeys = redisKeys(prefix).productQueue(product)
    const stages = await lightStages(admin, prefix, `${queueKeys.prefix}:${queueKeys.name}`, sentAt, recordedAt)
    await Promise.all(workers.map(async (w) => w.stop('SIGTERM')))

    log(`light load baseline: bare BullMQ, ${1000 / EVERY_MS} adds/s, add → record stored by a bare worker`)
    const bareWorkers = [1, 2].map(() => runNode('bare-bullmq.js', ['worker'], { REDIS_URL: redisUrl, QUEUE: 'bare-light', STORE: '1' }))
    const bareStoredAt = new Map<string, number>()
    const bareNotices = new Redis(redisUrl)
    const queue = new Queue('bare-light', { connection: admin, prefix: 'bench-bare' })
    try {
      await waitFor('bare light workers', () => bareWorkers.every((w) => w.output().includes('worker ready')), 30_000, 100)
      bareNotices.on('message', (_c: string, id: string) => { if (!bareStoredAt.has(id)) bareStoredAt.set(id, Date.now()) })
      await bareNotices.subscribe('bench-bare:records')
      const bareRun = async (count: number, name: string): Promise<Map<string, number>> => {
        const sentAt = await paced(count, (n) => {
          const id = `${name}-${n}`
          void queue.add('ticket', { ...seed, TicketId: id, ClientId: clientId }, { jobId: id, attempts: 3, backoff: { type: 'exponential', delay: 1000, jitter: 0.5 } })
          return id
        })
        await waitFor('bare light records', () => [...sentAt.keys()].every((k) => bareStoredAt.has(k)), 60_000, 50)
        return sentAt
      }
      const bareWarm = latencies(await bareRun(WARM_UP, 'lb-warm'), bareStoredAt)
      const bareSentAt = await bareRun(TICKETS, 'lb')
      const bare = latencies(bareSentAt, bareStoredAt)
      const [p50, p99, bareP50, bareP99] = [percentile(ours, 0.5), percentile(ours, 0.99), percentile(bare, 0.5), percentile(bare, 0.99)]
      const round = (n: number): number => Math.round(n * 100) / 100
      return {
        ratePerSecond: 1000 / EVERY_MS,
        tickets: sentAt.size,
        submitToRecordP50Ms: p50,
        submitToRecordP99Ms: p99,
        bareAddToRecordP50Ms: bareP50,
        bareAddToRecordP99Ms: bareP99,
        p50Ratio: round(p50 / Math.max(1, bareP50)),
        p99Ratio: round(p99 / Math.max(1, bareP99)),
        // The warm-up's slowest, each side (freshly started workers; the intake too when run alone).
        coldStartMaxMs: warm[warm.length - 1] ?? Number.NaN,
        bareColdStartMaxMs: bareWarm[bareWarm.length - 1] ?? Number.NaN,
        stages
      }
    } finally {
      bareWorkers.forEach((w) => w.kill('SIGTERM'))
      bareNotices.disconnect()
      await queue.close()
    }
  } finally {
    await Promise.all(workers.map(async (w) => w.stop('SIGTERM')))
    await watcher.stop()
    watcherConnection.disconnect()
    admin.disconnect()
  }
}
