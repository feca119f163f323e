// Ceilings of the pipeline: plain BullMQ with the same adds and a worker whose processor does
// nothing, or (STORE=1) the least a hand-written service does for a record: one SET with the TTL
// and one PUBLISH of the job id on `${PREFIX}:records`. argv[2] = "worker" or "producer"; REDIS_URL,
// QUEUE, PREFIX; producer: SECONDS, CONCURRENCY.
import { MetricsTime, Queue, Worker } from 'bullmq'
import { Redis } from 'ioredis'

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const name = process.env.QUEUE ?? 'bare'
const prefix = process.env.PREFIX ?? 'bench-bare'

if (process.argv[2] === 'worker') {
  const connection = new Redis(url, { maxRetriesPerRequest: null })
  const store = process.env.STORE === '1'
  const worker = new Worker(name, async (job) => {
    if (!store) return 'done'
    const record = JSON.stringify({ ...job.data, Status: 'success', StatusCode: 200, Message: 'Success', Data: { ResourceType: 'data', Resource: 'nik', ResourceId: job.id } })
    await connection.set(`${prefix}:record:${job.id}`, record, 'EX', 604800)
    await connection.publish(`${prefix}:records`, job.id ?? '')
    return 'done'
  }, {
    connection,
    prefix,
    concurrency: Number(process.env.CONCURRENCY ?? 50),
    removeOnComplete: { age: 3600, count: 10_000 },
    metrics: { maxDataPoints: MetricsTime.ONE_HOUR * 24 }
  })
  worker.on('error', () => {})
  console.log('worker ready')
  process.on('SIGTERM', () => { void worker.close().then(() => process.exit(0)) })
} else {
  const queue = new Queue(name, { connection: new Redis(url, { maxRetriesPerRequest: 1 }), prefix })
  const until = Date.now() + Number(process.env.SECONDS ?? 20) * 1000
  let added = 0
  await Promise.all(Array.from({ length: Number(process.env.CONCURRENCY ?? 50) }, async () => {
    while (Date.now() < until) {
      const n = added++
      await queue.add('ticket', { TicketId: `bare-${n}`, Subject: 'digitalid', SubjectType: 'enrollment', SubjectIdentifier: 'ektp', ClientId: 'bench' },
        { jobId: `YmVuY2g.bare-${n}`, attempts: 3, backoff: { type: 'exponential', delay: 1000, jitter: 0.5 } })
    }
  }))
  console.log(JSON.stringify({ added }))
  await queue.close()
  process.exit(0)
}
