import t from 'tap'
import { Queue } from 'bullmq'
import { Redis } from 'ioredis'
import { completedEnvelope, failedEnvelope } from '@request-out/contracts'
import { RecordStore } from '@request-out/record-store'
import { allTicketEvents, redisKeys } from '@request-out/redis-keys'
import { TEST_REDIS_URL, deleteKeys, uniquePrefix, waitFor } from '@request-out/test-support'
import { DeliveryState, EndpointStore, WebhookDispatcher, type DeliveryJob } from '../src/index.js'

const PRODUCT = 'digitalid/enrollment/ektp'
const ticket = (id: string) => ({ TicketId: id, Subject: 'digitalid', SubjectType: 'enrollment', SubjectIdentifier: 'ektp' })

t.test('the dispatcher reads from its ticket only a record an endpoint asks for, and queues its delivery', async (t) => {
  const prefix = uniquePrefix('dispatch')
  const redis = new Redis(TEST_REDIS_URL)
  // MONITOR answers on a connection of its own, made from this one.
  const monitored = new Redis(TEST_REDIS_URL)
  const monitor = await monitored.monitor()
  const keys = redisKeys(prefix)
  const { name, prefix: queuePrefix } = keys.webhookQueue
  const queue = new Queue<DeliveryJob>(name, { connection: redis, prefix: queuePrefix })
  const endpoints = new EndpointStore(redis, prefix)
  const dispatcher = new WebhookDispatcher(redis, {
    prefix,
    batchSize: 100,
    pollMs: 20,
    claimIdleMs: 30_000,
    log: { info: () => {}, warn: () => {} },
    endpoints,
    state: new DeliveryState(redis, prefix, 600),
    queue,
    schedule: [5000]
  })
  t.teardown(async () => {
    await dispatcher.stop()
    await queue.close()
    monitor.disconnect()
    monitored.disconnect()
    redis.disconnect()
    await deleteKeys(prefix)
  })

  // What this test's clients read from Redis themselves (not a script's own calls): the ticket hashes read.
  const ticketsRead: string[] = []
  monitor.on('monitor', (_time: string, args: string[], source: string) => {
    if (source !== 'lua' && args[0]?.toLowerCase() === 'hmget' && args[1]?.startsWith(prefix) === true) ticketsRead.push(args[1])
  })

  // Acme's endpoint asks for completed tickets only; Globex has none.
  await endpoints.put('acme', 'http://127.0.0.1:9/hook', ['ticket.completed'])
  dispatcher.start()
  // The groups start at new events: the dispatcher has made them before the records come.
  await waitFor('the dispatcher\'s groups', async () => (await Promise.all(allTicketEvents(keys).map(async (s) => await redis.exists(s)))).every((n) => n === 1), 5000, 20)

  const records = new RecordStore(redis, { prefix, ttlSeconds: 600 })
  for (const [client, id] of [['acme', 'A-done'], ['acme', 'A-failed'], ['globex', 'G-done']] as const) await records.claim(client, id, 'fp', PRODUCT)
  await records.writeRecord('acme', 'A-done', completedEnvelope(ticket('A-done'), { ResourceType: 'data', Resource: 'r', ResourceId: '1', Data: {} }))
  await records.writeRecord('acme', 'A-failed', failedEnvelope(ticket('A-failed'), 'PRODUCT_REJECTED', 'no'))
  await records.writeRecord('globex', 'G-done', completedEnvelope(ticket('G-done'), { ResourceType: 'data', Resource: 'r', ResourceId: '2', Data: {} }))

  await waitFor('the delivery of acme\'s completed ticket', async () => ((await queue.getJobCounts('wait')).wait ?? 0) > 0, 10_000, 20)
  // Then until the dispatcher has read and acknowledged every event of the three records.
  await waitFor('every event acknowledged', async () => {
    const pending = await Promise.all(allTicketEvents(keys).map(async (stream) => {
      const info = await redis.xinfo('GROUPS', stream) as Array<Array<string | number>>
      return info.reduce((n, group) => n + Number(group[group.indexOf('pending') + 1] ?? 0) + Number(group[group.indexOf('lag') + 1] ?? 0), 0)
    }))
    return pending.every((n) => n === 0)
  }, 10_000, 20)

  const jobs = await queue.getJobs(['wait'])
  t.same(jobs.map((j) => j.data.ticketId), ['A-done'], 'one delivery: the record acme\'s endpoint asks for')
  t.same(ticketsRead, [keys.ticket('acme', 'A-done')], 'only that ticket\'s record was read: not the failed one acme does not ask for, nor globex\'s')
})
