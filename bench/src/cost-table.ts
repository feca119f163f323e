// The cost table: what each step of a POST costs the intake. The same accept load against an
// intake with everything on, then with one feature switched off at a time (BENCH_INTAKE_OFF, which
// the intake refuses in production), in the same run: accept rate and CPU time per accepted ticket
// (the process's time on a CPU, from /proc/<pid>/schedstat, over the tickets it accepted), and the
// same for the bare route. Logging is at `info`, as in production, so the access line counts.
import { readFileSync } from 'node:fs'
import type { ChildProcess } from 'node:child_process'
import { BENCH_FEATURES } from '@request-out/contracts'
import { freePort, spawnApp, waitFor } from '@request-out/test-support'
import { runNode, type LoadResult } from './load-run.js'

const SECONDS = 4

export interface CostRow {
  /** The feature switched off, `nothing (all on)`, or `everything (the bare route)`. */
  off: string
  acceptRps: number
  cpuMicrosPerTicket: number
  /** Accept rate against all on, measured right before and after it (above 1: the feature costs that much). */
  rpsRatio: number
  /** CPU per ticket saved with the feature off, µs, and its share of all on's. */
  cpuSavedMicros: number
  cpuSavedShare: number
}

type Load = (spec: Record<string, unknown>) => Promise<LoadResult>

/** Nanoseconds the process has spent on a CPU. */
const cpuNanos = (pid: number): number => Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[0])
const round = (n: number, digits = 2): number => Math.round(n * 10 ** digits) / 10 ** digits

export async function costTable (redisUrl: string, auth: Record<string, string>, ticket: Record<string, string>, load: Load, log: (msg: string) => void): Promise<CostRow[]> {
  const measure = async (url: string, pid: number, warmSeconds: number): Promise<{ rps: number, micros: number }> => {
    const spec = (prefix: string, seconds: number): Record<string, unknown> =>
      ({ url, connections: 50, durationSeconds: seconds, method: 'POST', headers: auth, ticket, ticketPrefix: prefix })
    if (warmSeconds > 0) await load(spec('warm', warmSeconds))
    const before = cpuNanos(pid)
    const result = await load(spec('cost', SECONDS))
    return { rps: result.requestsPerSecond, micros: (cpuNanos(pid) - before) / 1000 / Math.max(1, result.total - result.non2xx) }
  }
  const start = async (i: number, off: string | undefined): Promise<{ url: string, pid: number, stop: () => Promise<unknown> }> => {
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
  // Every intake is started and warmed first, so none is measured colder than another; on a noisy
  // machine one run's rate moves by tens of per cent, so each feature's run is compared with the
  // all-on intake measured right before and right after it.
  const allOn = await start(0, undefined)
  const variants = await Promise.all(BENCH_FEATURES.map(async (off, i) => ({ off, intake: await start(i + 1, off) })))
  const rows: CostRow[] = []
  try {
    for (const { intake } of [{ intake: allOn }, ...variants]) await measure(intake.url, intake.pid, 2)
    let previous = await measure(allOn.url, allOn.pid, 0)
    const first = previous
    for (const { off, intake } of variants) {
      const switched = await measure(intake.url, intake.pid, 0)
      const next = await measure(allOn.url, allOn.pid, 0)
      const on = { rps: (previous.rps + next.rps) / 2, micros: (previous.micros + next.micros) / 2 }
      rows.push(row(off, switched, on))
      log(`cost table: ${off} off: ${Math.round(switched.rps)} req/s against ${Math.round(on.rps)}, ${round(switched.micros, 0)} µs of CPU a ticket against ${round(on.micros, 0)}`)
      previous = next
    }
    const on = { rps: (first.rps + previous.rps) / 2, micros: (first.micros + previous.micros) / 2 }
    rows.unshift(row('nothing (all on)', on, on))
    const basePort = await freePort()
    const baseline: ChildProcess & { output: () => string } = runNode('baseline-intake.js', [], { PORT: String(basePort), REDIS_URL: redisUrl })
    try {
      await waitFor('baseline', () => baseline.output().includes('baseline ready'), 30_000, 100)
      rows.push(row('everything (the bare route)', await measure(`http://127.0.0.1:${basePort}/accept`, baseline.pid ?? 0, 2), on))
    } finally {
      baseline.kill('SIGTERM')
    }
  } finally {
    await Promise.all([allOn, ...variants.map((v) => v.intake)].map(async (i) => await i.stop()))
  }
  return rows
}

function row (off: string, measured: { rps: number, micros: number }, on: { rps: number, micros: number }): CostRow {
  return {
    off,
    acceptRps: Math.round(measured.rps),
    cpuMicrosPerTicket: round(measured.micros, 0),
    rpsRatio: round(measured.rps / Math.max(1, on.rps)),
    cpuSavedMicros: round(on.micros - measured.micros, 0),
    cpuSavedShare: round((on.micros - measured.micros) / on.micros)
  }
}
