// `npm run bench -- memory-sweep [NODE_OPTIONS …]` (SWEEP_APPS=intake or worker for one of them): the intake's accept rate and peak RSS, and a
// worker's drain rate and peak RSS, under each V8 setting, against Node's defaults in the same
// run. How the shipped NODE_OPTIONS (docker-compose.yml, deploy/k8s) were chosen; not part of the
// regular bench.
import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import { createSigner } from 'fast-jwt'
import { DEVELOPMENT_JWT_SECRET } from '@request-out/runtime'
import { watchRecords } from '@request-out/record-store'
import { freePort, spawnApp, startPrivateRedis, waitFor } from '@request-out/test-support'
import { loadRun } from './load-run.js'
import { memoryOf, printTable } from './report.js'

const PREFIX = 'sweep'
const SEED = { Subject: 'digitalid', SubjectType: 'enrollment', SubjectIdentifier: 'ektp' }
const DEFAULT_VARIANTS = [
  '',
  '--max-old-space-size=96',
  '--max-semi-space-size=16',
  '--max-old-space-size=96 --max-semi-space-size=16',
  '--max-old-space-size=128 --max-semi-space-size=16',
  '--max-old-space-size=128 --max-semi-space-size=32'
]

export async function memorySweep (variants = DEFAULT_VARIANTS): Promise<void> {
  const redis = await startPrivateRedis()
  const admin = new Redis(redis.url)
  const token = createSigner({ key: DEVELOPMENT_JWT_SECRET, iss: 'request-out', aud: 'request-out', expiresIn: 3_600_000 })({ sub: 'demo-client', role: 'client', jti: randomUUID() })
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' }
  const env = { REDIS_URL: redis.url, QUEUE_PREFIX: PREFIX, LOG_LEVEL: 'warn', RATE_LIMIT_MAX: '10000000', MAX_QUEUE_DEPTH: '100000000' }
  const rows: Array<[string, string]> = []
  try {
    // Intake: 50 connections for 10 s after a 3 s warm-up, each variant in a fresh process; the
    // list twice, the second time backwards, so a drift of the machine's speed shows.
    const only = process.env.SWEEP_APPS
    for (const options of only === 'worker' ? [] : [...variants, ...[...variants].reverse()]) {
      await admin.flushall()
      const port = await freePort()
      const intake = spawnApp('intake', { ...env, PORT: String(port), NODE_OPTIONS: options })
      await waitFor('intake', async () => (await fetch(`http://127.0.0.1:${port}/health/ready`)).ok, 30_000, 100)
      const spec = (prefix: string, seconds: number): Record<string, unknown> =>
        ({ url: `http://127.0.0.1:${port}/v1/request-out`, connections: 50, durationSeconds: seconds, method: 'POST', headers, ticket: SEED, ticketPrefix: prefix })
      await loadRun(spec('warm', 3))
      const run = await loadRun(spec('m', 10))
      rows.push([`intake ${options || '(Node defaults)'}`, `${Math.round(run.requestsPerSecond)} req/s, p99 ${run.latencyP99} ms, peak RSS ${memoryOf(intake.pid).peakMb} MB, non-2xx ${run.non2xx}, errors ${run.errors}`])
      console.log(rows.at(-1)?.join(': '))
      await intake.stop('SIGTERM')
    }
    // Worker: 20,000 tickets queued first, then one worker drains them.
    const port = await freePort()
    const intake = spawnApp('intake', { ...env, PORT: String(port) })
    await waitFor('intake', async () => (await fetch(`http://127.0.0.1:${port}/health/ready`)).ok, 30_000, 100)
    let stored = 0
    const watcher = await watchRecords(new Redis(redis.url), PREFIX, () => { stored++ })
    for (const options of only === 'intake' ? [] : variants) {
      await admin.flushall()
      const tickets = 20_000
      for (let n = 0; n < tickets; n += 500) {
        const batch = Array.from({ length: 500 }, (_, i) => ({ ...SEED, TicketId: `w-${n + i}` }))
        const r = await fetch(`http://127.0.0.1:${port}/v1/request-out/batch`, { method: 'POST', headers, body: JSON.stringify({ Tickets: batch }) })
        await r.arrayBuffer()
      }
      stored = 0
      const worker = spawnApp('worker', { ...env, NODE_OPTIONS: options })
      const start = Date.now()
      await waitFor('the worker to drain', () => stored >= tickets, 300_000, 50)
      const seconds = (Date.now() - start) / 1000
      rows.push([`worker ${options || '(Node defaults)'}`, `${Math.round(tickets / seconds)} tickets/s, peak RSS ${memoryOf(worker.pid).peakMb} MB`])
      console.log(rows.at(-1)?.join(': '))
      await worker.stop('SIGTERM')
      await sleep(200)
    }
    await watcher.stop()
    await intake.stop('SIGTERM')
  } finally {
    admin.disconnect()
    await redis.stop()
  }
  printTable(`memory sweep on Node ${process.version}`, rows)
}
