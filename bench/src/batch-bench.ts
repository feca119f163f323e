// Batches: tickets accepted per second through POST /v1/request-out/batch (500 a batch) against a
// bare in-process BullMQ addBulk of as many jobs in the same run, and the latency of 1,000-ticket batches.
import { Queue } from 'bullmq'
import type { Redis } from 'ioredis'
import { percentile } from './report.js'

const SEED = { Subject: 'digitalid', SubjectType: 'enrollment', SubjectIdentifier: 'ektp' }

export interface BatchResult { ticketsPerSecond: number, bareAddBulkPerSecond: number, ratio: number, batch1000P50Ms: number, batch1000P99Ms: number }

export async function batchRow (url: string, headers: Record<string, string>, admin: Redis, log: (msg: string) => void): Promise<BatchResult> {
  const send = async (tag: string, n: number): Promise<number> => {
    const started = process.hrtime.bigint()
    const res = await fetch(url, { method: 'POST', headers, body: JSON.stringify({ Tickets: Array.from({ length: n }, (_, i) => ({ ...SEED, TicketId: `${tag}-${i}` })) }) })
    await res.arrayBuffer()
    if (res.status !== 200) throw new Error(`batch ${tag}: ${res.status}`)
    return Number(process.hrtime.bigint() - started) / 1e6
  }
  log('batches: 40 batches of 500 tickets, then 30 of 1,000 for latency')
  await send('warm', 500)
  const started = Date.now()
  for (let b = 0; b < 40; b++) await send(`b500-${b}`, 500)
  const ticketsPerSecond = 20_000 / ((Date.now() - started) / 1000)
  const latencies: number[] = []
  for (let b = 0; b < 30; b++) latencies.push(await send(`b1000-${b}`, 1000))
  latencies.sort((a, b) => a - b)

  const queue = new Queue('bare-bulk', { connection: admin, prefix: 'bench-bare-bulk' })
  const bareStarted = Date.now()
  for (let b = 0; b < 40; b++) {
    await queue.addBulk(Array.from({ length: 500 }, (_, i) => ({ name: 'ticket', data: { ...SEED, TicketId: `bare-${b}-${i}` }, opts: { jobId: `bare-${b}-${i}`, attempts: 3 } })))
  }
  const bare = 20_000 / ((Date.now() - bareStarted) / 1000)
  await queue.obliterate({ force: true })
  await queue.close()
  return {
    ticketsPerSecond: Math.round(ticketsPerSecond),
    bareAddBulkPerSecond: Math.round(bare),
    ratio: Math.round(ticketsPerSecond / bare * 100) / 100,
    batch1000P50Ms: Math.round(percentile(latencies, 0.5)),
    batch1000P99Ms: Math.round(percentile(latencies, 0.99))
  }
}
