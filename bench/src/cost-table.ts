// The cost table: what each step of a POST costs the intake. The same accept load against an
// intake with everything on, then with one feature switched off at a time (BENCH_INTAKE_OFF, which
// the intake refuses in production), in the same run: accept rate and CPU time per accepted ticket
// (the process's time on a CPU, from /proc/<pid>/schedstat, over the tickets it accepted), and the
// same for the bare route. Logging is at `info`, as in production, so the access line counts.
import type { ChildProcess } from 'node:child_process'
import { Redis } from 'ioredis'
import { BENCH_FEATURES } from '@request-out/contracts'
import { freePort, spawnApp, waitFor } from '@request-out/test-support'
import { runNode, type LoadResult } from './load-run.js'
import { cpuNanos } from './report.js'

const SECONDS = 2
const WARM_SECONDS = 1.5

export interface CostRow {
  /** The feature switched off, `nothing (all on)`, or `everything (the bare route)`. */
  off: string
  acceptRps: number
  cpuMicrosPerTicket: number
  /** Redis' CPU time per accepted ticket, µs (its used_cpu_user + used_cpu_sys over the run). */
  redisCpuMicrosPerTicket: number
  /** Accept rate against all on, measured in the same four runs (above 1: the feature costs that much). */
  rpsRatio: number
  /** CPU per ticket saved with the feature off, µs, and its share of all on's. */
  cpuSavedMicros: number
  cpuSavedShare: number
}

type Load = (spec: Record<string, unknown>) => Promise<LoadResult>

const round = (n: number, digits = 2): number => Math.round(n * 10 ** digits) / 10 ** digits

export async function costTable (redisUrl: string, auth: Record<string, string>, ticket: Record<string, string>, load: Load, log: (msg: string) => void): Promise<CostRow[]> {
  const spec = (url: string, prefix: string, seconds: number): Record<string, unknown> =>
    ({ url, connections: 50, durationSeconds: seconds, method: 'POST', headers: auth, ticket, ticketPrefix: prefix })
  const warm = async (url: string): Promise<unknown> => await load(spec(url, 'warm', WARM_SECONDS))
  const redis = new Redis(redisUrl)
  const redisCpuMicros = async (): Promise<number> =>
    1e6 * [...(await redis.info('cpu')).matchAll(/used_cpu_(?:user|sys):([\d.]+)/g)].reduce((sum, m) => sum + Number(m[1]), 0)
  const measure = async (url: string, pid: number): Promise<Measured> => {
    const [before, redisBefore] = [cpuNanos(pid), await redisCpuMicros()]
    const result = await load(spec(url, 'cost', SECONDS))
    const accepted = Math.max(1, result.total - result.non2xx)
    return { rps: result.requestsPerSecond, micros: (cpuNanos(pid) - before) / 1000 / accepted, redisMicros: (await redisCpuMicros() - redisBefore) / accepted }
  }
  const start = async (i: number, off: string | undefined): Promise<Started> => {
    const port = await freePort()
    const intake = spawnApp('intake', {
      REDIS_URL: redisUrl,
      QUEUE_PREFIX: `bench-cost-${i}`,
      LOG_LEVEL: 'info',
      RATE_LIMIT_MAX: '10000000',
      MAX_QUEUE_DEPTH: '100000000',
      PORT: String(port),
      ...(off === undefined ? {} : { BENCH_INTAKE_OFF: off })
    })
    await waitFor('cost-table intake', async () => (await fetch(`http://127.0.0.1:${port}/health/ready`)).ok, 30_000, 100)
    return { url: `http://127.0.0.1:${port}/v1/request-out`, pid: intake.pid, stop: async () => await intake.stop('SIGTERM') }
  }
  const startBare = async (): Promise<Started> => {
    const port = await freePort()
    const baseline: ChildProcess & { output: () => string } = runNode('baseline-intake.js', [], { PORT: String(port), REDIS_URL: redisUrl })
    await waitFor('baseline', () => baseline.output().includes('baseline ready'), 30_000, 100)
    return { url: `http://127.0.0.1:${port}/accept`, pid: baseline.pid ?? 0, stop: async () => baseline.kill('SIGTERM') }
  }
  // One feature at a time, each against an all-on intake started beside it: an intake left idle
  // for a minute ran colder than one kept busy, by up to a third, whatever was switched off. Both
  // fresh, both warmed, then variant, all on, all on, variant, and the sums compared: on this shared
  // machine one run's rate moves by tens of per cent, and a drift within the four runs weighs on
  // both sides alike.
  const rows: CostRow[] = []
  const allOnRuns: Measured[] = []
  const paired = async (variant: Started, allOn: Started): Promise<{ switched: Measured, on: Measured }> => {
    await warm(variant.url)
    await warm(allOn.url)
    const v1 = await measure(variant.url, variant.pid)
    const a1 = await measure(allOn.url, allOn.pid)
    const a2 = await measure(allOn.url, allOn.pid)
    const v2 = await measure(variant.url, variant.pid)
    allOnRuns.push(a1, a2)
    return { switched: mean([v1, v2]), on: mean([a1, a2]) }
  }
  try {
    for (const [i, off] of [...BENCH_FEATURES, BARE].entries()) {
      const [variant, allOn] = await Promise.all([off === BARE ? startBare() : start(2 * i, off), start(2 * i + 1, undefined)])
      try {
        const { switched, on } = await paired(variant, allOn)
        rows.push(row(off, switched, on))
        log(`cost table: ${off} off: ${Math.round(switched.rps)} req/s against ${Math.round(on.rps)}, ${round(switched.micros, 0)} µs of CPU a ticket against ${round(on.micros, 0)}`)
      } finally {
        await Promise.all([variant.stop(), allOn.stop()])
      }
    }
    const everyAllOn = mean(allOnRuns)
    rows.unshift(row('nothing (all on)', everyAllOn, everyAllOn))
  } finally {
    redis.disconnect()
  }
  return rows
}

interface Measured { rps: number, micros: number, redisMicros: number }
interface Started { url: string, pid: number, stop: () => Promise<unknown> }

/** The last row: everything off, the bare route (Fastify, fast-jwt and one plain add). */
const BARE = 'everything (the bare route)'

const mean = (runs: Measured[]): Measured => runs.reduce((sum, r) =>
  ({ rps: sum.rps + r.rps / runs.length, micros: sum.micros + r.micros / runs.length, redisMicros: sum.redisMicros + r.redisMicros / runs.length }), { rps: 0, micros: 0, redisMicros: 0 })

function row (off: string, measured: Measured, on: Measured): CostRow {
  return {
    off,
    acceptRps: Math.round(measured.rps),
    cpuMicrosPerTicket: round(measured.micros, 0),
    redisCpuMicrosPerTicket: round(measured.redisMicros, 0),
    rpsRatio: round(measured.rps / Math.max(1, on.rps)),
    cpuSavedMicros: round(on.micros - measured.micros, 0),
    cpuSavedShare: round((on.micros - measured.micros) / on.micros)
  }
}
