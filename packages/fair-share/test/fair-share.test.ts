import t from 'tap'
import { Queue } from 'bullmq'
import { Redis } from 'ioredis'
import { redisKeys } from '@request-out/redis-keys'
import { TEST_REDIS_URL, deleteKeys, uniquePrefix } from '@request-out/test-support'
import { defineFairShareCommands, fairPriorities } from '../src/index.js'

// Fair sharing reads BullMQ's internal score of a prioritized job. This test fails first when a
// BullMQ upgrade moves the key or changes the score, before fairness silently breaks.
t.test('BullMQ\'s prioritized set: where our key module says, scored priority * 2^32 + a counter', async (t) => {
  const prefix = uniquePrefix('fair-score')
  const keys = redisKeys(prefix)
  const product = 'a/b/c'
  const { name, prefix: queuePrefix } = keys.productQueue(product)
  const redis = new Redis(TEST_REDIS_URL)
  const queue = new Queue(name, { connection: redis, prefix: queuePrefix })
  t.teardown(async () => {
    await queue.close()
    redis.disconnect()
    await deleteKeys(prefix)
  })
  t.equal(queue.keys.prioritized, keys.prioritized(product), 'the key module names BullMQ\'s own key')
  t.equal(queue.toKey('ro-fair'), keys.fairShare(product), 'our keys beside it are where BullMQ would put them')
  await queue.add('job', {}, { jobId: 'j1', priority: 7 })
  await queue.add('job', {}, { jobId: 'j2', priority: 7 })
  await queue.add('job', {}, { jobId: 'j3', priority: 3 })
  const scored = await redis.zrange(keys.prioritized(product), 0, -1, 'WITHSCORES')
  const byJob = new Map<string, number>()
  for (let i = 0; i + 1 < scored.length; i += 2) byJob.set(scored[i] as string, Number(scored[i + 1]))
  t.same([...byJob.keys()], ['j3', 'j1', 'j2'], 'lower priority first, then insertion order')
  for (const [job, priority] of [['j1', 7], ['j2', 7], ['j3', 3]] as const) {
    t.equal(Math.floor((byJob.get(job) ?? 0) / 2 ** 32), priority, `${job}: the score's high part is its priority`)
  }
  t.ok((byJob.get('j2') ?? 0) > (byJob.get('j1') ?? 0), 'the low part is a counter')

  // With the head at priority 3, a client without a backlog starts right behind it.
  defineFairShareCommands(redis)
  t.same(await fairPriorities(redis, keys, product, 'newcomer', 2), [3, 4])
  t.same(await fairPriorities(redis, keys, product, 'newcomer', 1), [5], 'its next turn follows its last')
})
