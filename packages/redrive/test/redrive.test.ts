import t, { type Test } from 'tap'
import { Queue, UnrecoverableError, Worker } from 'bullmq'
import { Redis } from 'ioredis'
import pino from 'pino'
import { completedEnvelope, failedEnvelope } from '@request-out/contracts'
import { parseCatalog } from '@request-out/product-catalog'
import { RecordStore } from '@request-out/record-store'
import { redisKeys, ticketKey } from '@request-out/redis-keys'
import { TEST_REDIS_URL, deleteKeys, uniquePrefix, waitFor } from '@request-out/test-support'
import { RedriveRunner, RedriveStore } from '../src/index.js'

const PRODUCT = 'test/redrive/unit'

/** A product queue whose every job fails, tickets claimed and given their records as a worker would. */
async function setup (t: Test) {
  const prefix = uniquePrefix('redrive-unit')
  const redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null })
  const keys = redisKeys(prefix)
  const ticket = { Subject: 'test', SubjectType: 'redrive', SubjectIdentifier: 'unit' }
  const catalog = parseCatalog({ Products: [{ ...ticket, Name: 'unit', Kind: 'sandbox', Attempts: 1 }] })
  const { name, prefix: queuePrefix } = keys.productQueue(PRODUCT)
  const queue = new Queue(name, { connection: redis, prefix: queuePrefix })
  let failing = true
  const records = new RecordStore(redis, { prefix, ttlSeconds: 3600 })
  // The product: down until healed, then a worker's record for each ticket.
  const worker = new Worker(name, async (job) => {
    if (failing) throw new UnrecoverableError('down')
    const { ClientId, TicketId } = job.data as { ClientId: string, TicketId: string }
    await records.writeRecord(ClientId, TicketId, completedEnvelope({ ...ticket, TicketId }, { ResourceType: 'data', Resource: 'nik', ResourceId: '1', Data: null }), { startedAt: Date.now(), tries: 1, tryId: String(job.processedOn) })
    return 'ok'
  }, { connection: redis, prefix: queuePrefix })
  t.teardown(async () => {
    await worker.close()
    await queue.close()
    redis.disconnect()
    await deleteKeys(prefix)
  })
  const failed = async (clientId: string, ticketId: string, code: 'PRODUCT_FAILED' | 'PRODUCT_REJECTED' = 'PRODUCT_FAILED'): Promise<void> => {
    await records.claim(clientId, ticketId, 'fp', PRODUCT)
    await queue.add('ticket', { ...ticket, TicketId: ticketId, ClientId: clientId }, { jobId: ticketKey(clientId, ticketId), attempts: 1 })
    await records.writeRecord(clientId, ticketId, failedEnvelope({ ...ticket, TicketId: ticketId }, code, 'x'), { startedAt: Date.now(), tries: 1 })
  }
  const runner = (holder: string): RedriveRunner => new RedriveRunner({
    redis,
    prefix,
    recordStore: records,
    queueFor: (p) => p === PRODUCT ? queue : undefined,
    productOf: (p) => catalog.get(p),
    fairShared: () => false,
    available: async () => true,
    maxQueueDepth: 1000,
    ticketsPerSecond: 10_000,
    holder,
    counted: () => {},
    log: pino({ level: 'silent' })
  })
  return { prefix, redis, keys, queue, records, failed, runner, heal: () => { failing = false }, store: new RedriveStore(redis, { prefix, maxAgeDays: 30, products: [PRODUCT] }) }
}

t.test('the selection: only PRODUCT_FAILED (never a rejection), by client and acceptance time, and only while its job is kept', async (t) => {
  const { store, failed, queue } = await setup(t)
  await failed('a', 't-1')
  await failed('b', 't-2')
  await failed('a', 't-3', 'PRODUCT_REJECTED')
  await waitFor('three failed jobs', async () => (await queue.getJobCounts('failed')).failed === 3)
  t.match(await store.dryRun({ ClientId: 'a' }), { selected: 1, sample: [{ ClientId: 'a', TicketId: 't-1', Product: PRODUCT }] }, 'a rejection is no dead letter')
  t.equal((await store.dryRun({ Product: PRODUCT })).selected, 2)
  t.equal((await store.dryRun({ From: new Date(Date.now() + 60_000).toISOString() })).selected, 0, 'accepted before From')
  t.equal((await store.dryRun({ To: new Date(Date.now() - 60_000).toISOString() })).selected, 0, 'accepted after To')
  t.equal((await store.dryRun({ Product: 'other/product/key' })).selected, 0)
  await (await queue.getJob(ticketKey('b', 't-2')))?.remove()
  t.equal((await store.dryRun({ Product: PRODUCT })).selected, 1, 'a ticket whose job (its input) is gone is not found')
})

t.test('two redrives of the same tickets at once, run by two runners: each ticket is sent back once, the other redrive skips it', async (t) => {
  const { store, failed, queue, runner, heal, redis, keys, records } = await setup(t)
  const ids = Array.from({ length: 30 }, (_, i) => `x-${i}`)
  for (const id of ids) await failed('a', id)
  await waitFor('the failed jobs', async () => (await queue.getJobCounts('failed')).failed === ids.length)
  heal()
  const one = await store.select({ Product: PRODUCT }, 'ops')
  const two = await store.select({ Product: PRODUCT }, 'ops')
  t.equal(one.selected, 30)
  t.equal(two.selected, 30)
  await store.start(one.id ?? '')
  await store.start(two.id ?? '')
  const runners = [runner('x'), runner('y')]
  runners.forEach((r) => r.start())
  t.teardown(async () => { await Promise.all(runners.map(async (r) => r.stop())) })
  const [p1, p2] = await waitFor('both redrives to be done', async () => {
    const both = await Promise.all([store.progress(one.id ?? ''), store.progress(two.id ?? '')])
    return both.every((p) => p?.State === 'done') ? both : undefined
  }, 20_000, 100)
  t.equal((p1?.Queued ?? 0) + (p2?.Queued ?? 0), 30, 'every ticket sent back by exactly one of them')
  t.equal((p1?.Skipped ?? 0) + (p2?.Skipped ?? 0), 30, 'and left by the other')
  t.equal(await redis.zcard(keys.redrives), 0, 'both left the runners\' list')
  const events = await Promise.all(ids.map(async (id) => (await records.eventsOf('a', id)).filter((e) => e.type === 'redriven').length))
  t.ok(events.every((n) => n === 1), 'one redriven event per ticket')
})

t.test('a ticket is reopened only for the acceptance selected, while its record is PRODUCT_FAILED', async (t) => {
  const { records, failed } = await setup(t)
  await failed('a', 'r-1')
  const at = Number(await records.acceptedAt('a', 'r-1'))
  t.equal(await records.reopenForRedrive('a', 'r-1', at + 1, 'R1'), 'newer', 'another acceptance of the TicketId')
  t.equal(await records.reopenForRedrive('a', 'r-1', at, 'R1'), 'reopened')
  t.equal(await records.reopenForRedrive('a', 'r-1', at, 'R1'), 'mine', 'this redrive again (it stopped before sending it)')
  t.equal(await records.reopenForRedrive('a', 'r-1', at, 'R2'), 'busy', 'another redrive')
  t.equal(await records.reopenForRedrive('a', 'gone', at, 'R1'), 'gone')
  await failed('a', 'r-2', 'PRODUCT_REJECTED')
  t.equal(await records.reopenForRedrive('a', 'r-2', Number(await records.acceptedAt('a', 'r-2')), 'R1'), 'final')
  t.match(await records.read('a', 'r-1'), { exists: true, record: undefined }, 'reopened: no record, so GET answers IN_PROCESS')
})
