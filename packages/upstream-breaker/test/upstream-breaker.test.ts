import t, { type Test } from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { Queue } from 'bullmq'
import { Redis } from 'ioredis'
import type { Breaker } from '@request-out/product-catalog'
import { redisKeys } from '@request-out/redis-keys'
import { TEST_REDIS_URL, deleteKeys, uniquePrefix } from '@request-out/test-support'
import {
  ProductBreaker, ackTransition, defineBreakerReads, pauseProduct, pendingTransitions, readBreaker, stateAt,
  type BreakerStateName, type BreakerObserver
} from '../src/index.js'

const PRODUCT = 'digitalid/enrollment/ektp'
const SETTINGS: Breaker = { windowMs: 1000, minCalls: 10, failureRatio: 0.5, consecutiveFailures: 10, openMs: 300, maxOpenMs: 1000 }

/** A breaker side under a prefix of its own, as one worker process holds it; its transitions are collected. */
function setup (t: Test, settings: Breaker = SETTINGS) {
  const prefix = uniquePrefix('breaker')
  const redis = new Redis(TEST_REDIS_URL)
  const keys = redisKeys(prefix)
  const transitions: BreakerStateName[] = []
  const observer: BreakerObserver = { seen: () => {}, transition: (to) => { transitions.push(to) }, unreachable: (err) => { throw err } }
  const worker = (): ProductBreaker => new ProductBreaker(redis, keys, PRODUCT, settings, 5000, observer)
  const queue = new Queue(PRODUCT, { connection: redis, prefix: keys.productQueue(PRODUCT).prefix })
  defineBreakerReads(redis)
  t.teardown(async () => {
    await queue.close()
    redis.disconnect()
    await deleteKeys(prefix)
  })
  return { redis, keys, transitions, worker, queue, read: async () => await readBreaker(redis, keys, PRODUCT) }
}

const failures = (b: ProductBreaker, n: number): void => { for (let i = 0; i < n; i++) b.count('failed') }
const successes = (b: ProductBreaker, n: number): void => { for (let i = 0; i < n; i++) b.count('ok') }

t.test('ten failures in a row open it, over two workers and several syncs; the queue\'s BullMQ limiter stops every worker until the probe time', async (t) => {
  const { worker, read, queue, transitions } = setup(t)
  const a = worker()
  const b = worker()
  failures(a, 4)
  await a.sync()
  failures(b, 5)
  await b.sync()
  t.equal((await read()).state, 'closed', '9 in a row: still closed')
  failures(a, 1)
  await a.sync()
  const opened = await read()
  t.equal(opened.state, 'open')
  t.match(opened.reason, /10 failures in a row/)
  t.ok(opened.probeAt >= opened.since + SETTINGS.openMs && opened.probeAt <= opened.since + SETTINGS.openMs * 1.2, 'the probe comes after OpenMs, with up to a fifth of jitter')
  t.ok(await queue.getRateLimitTtl() > 0, 'BullMQ sees its queue rate-limited (its own limiter key)')
  t.same(transitions, ['open'], 'the worker whose sync tipped it made the transition')
  await b.sync()
  t.equal(b.state, 'open', 'the other worker sees it at its next sync')
})

t.test('a success breaks the run; the window opens it at half the calls failed, from MinCalls on', async (t) => {
  const { worker, read } = setup(t, { ...SETTINGS, consecutiveFailures: 100 })
  const a = worker()
  failures(a, 4)
  await a.sync()
  t.equal((await read()).state, 'closed', '4 of 4 failed, below MinCalls')
  successes(a, 5)
  failures(a, 0)
  await a.sync()
  t.equal((await read()).state, 'closed', '4 of 9 failed')
  a.count('failed')
  await a.sync()
  const opened = await read()
  t.equal(opened.state, 'open', '5 of 10 failed')
  t.match(opened.reason, /5 of 10 calls failed/)
})

t.test('the window slides: failures older than WindowMs no longer count', async (t) => {
  const { worker, read } = setup(t, { ...SETTINGS, consecutiveFailures: 1000 })
  const a = worker()
  failures(a, 6)
  successes(a, 3)
  await a.sync()
  t.equal((await read()).state, 'closed', '6 of 9: below MinCalls')
  await sleep(SETTINGS.windowMs + 150)
  successes(a, 10)
  failures(a, 9)
  await a.sync()
  t.equal((await read()).state, 'closed', '9 of 19 in the window (with the first ones it would be 15 of 28)')
})

t.test('open: tries wait; from the probe time one try probes, the others wait; its success closes the breaker and lifts the limiter', async (t) => {
  const { worker, read, queue, redis, keys, transitions } = setup(t)
  const a = worker()
  const b = worker()
  failures(a, 10)
  await a.sync()
  await b.sync()
  t.equal(await a.admit('job-1'), 'wait', 'before the probe time')
  t.equal(await b.admit('job-2'), 'wait')
  const { probeAt } = await read()
  await sleep(Math.max(0, probeAt - Date.now()) + 20)
  t.equal(stateAt(await read(), Date.now()), 'half-open', 'half-open once the probe time has come')
  t.equal(await b.admit('job-2'), 'probe', 'the first to ask probes')
  t.equal(await a.admit('job-1'), 'wait', 'one probe at a time over every worker')
  t.equal(await b.admit('job-2'), 'probe', 'the probe asking again (a re-delivery) is still the probe')
  t.equal((await read()).state, 'half-open')
  await a.settleProbe('job-1', 'ok', 'not the holder')
  t.equal((await read()).state, 'half-open', 'a try that does not hold the probe changes nothing')
  await b.settleProbe('job-2', 'ok', 'the probe try succeeded')
  const closed = await read()
  t.equal(closed.state, 'closed')
  t.ok(await queue.getRateLimitTtl() <= 0, 'the limiter is lifted: every worker resumes')
  t.equal(await a.admit('job-1'), 'run', 'a worker that has not synced yet asks Redis, and runs…')
  await a.sync()
  t.equal(a.admit('job-1'), 'run', '…and after its sync runs tries without asking')
  t.same(transitions, ['open', 'half-open', 'closed'])
  const queued = await pendingTransitions(redis, keys, PRODUCT)
  t.same(queued.map((q) => [q.transition.to, q.transition.from]), [['open', 'closed'], ['close', 'half-open']], 'open and close wait for their audit entry')
  t.ok(queued[0]!.transition.seq < queued[1]!.transition.seq)
})

t.test('a failed probe opens it again for twice the interval, up to MaxOpenMs; back to OpenMs only after a whole window closed', async (t) => {
  const { worker, read, redis, keys } = setup(t)
  const a = worker()
  failures(a, 10)
  await a.sync()
  const intervals: number[] = []
  for (let i = 0; i < 3; i++) {
    const { probeAt, since } = await read()
    intervals.push(probeAt - since)
    await sleep(Math.max(0, probeAt - Date.now()) + 20)
    t.equal(await a.admit(`probe-${i}`), 'probe')
    await a.settleProbe(`probe-${i}`, 'failed', 'upstream answered 503')
  }
  const last = await read()
  intervals.push(last.probeAt - last.since)
  t.ok(intervals[1]! >= 600 && intervals[1]! <= 720, `doubled: ${intervals.join(', ')}`)
  t.ok(intervals[2]! >= 1000 && intervals[3]! <= 1200, `capped at MaxOpenMs (with jitter): ${intervals.join(', ')}`)
  t.match(last.reason, /503/)
  // Close it, then fail again at once: the flapping upstream keeps the long interval.
  await sleep(Math.max(0, last.probeAt - Date.now()) + 20)
  t.equal(await a.admit('probe-x'), 'probe')
  await a.settleProbe('probe-x', 'ok', 'ok')
  await a.sync()
  failures(a, 10)
  await a.sync()
  const again = await read()
  t.ok(again.probeAt - again.since >= 1000, 'reopened within a window of closing: still the long interval')
  await sleep(Math.max(0, again.probeAt - Date.now()) + 20)
  t.equal(await a.admit('probe-y'), 'probe')
  await a.settleProbe('probe-y', 'ok', 'ok')
  await a.sync()
  await sleep(SETTINGS.windowMs + 50)
  failures(a, 10)
  await a.sync()
  const rested = await read()
  t.ok(rested.probeAt - rested.since < 400, 'closed for a whole window: back to OpenMs')
  t.ok((await pendingTransitions(redis, keys, PRODUCT, 100)).length >= 8, 'every open and close is queued for its audit entry')
})

t.test('a probe that found nothing (paused, cancelled) frees the lease for another try', async (t) => {
  const { worker } = setup(t)
  const a = worker()
  failures(a, 10)
  await a.sync()
  await sleep(SETTINGS.openMs * 1.2 + 30)
  t.equal(await a.admit('job-1'), 'probe')
  t.equal(await a.admit('job-2'), 'wait')
  await a.settleProbe('job-1', 'none', 'paused')
  t.equal(await a.admit('job-2'), 'probe')
})

t.test('the state lives in Redis: a new worker process (a restart) starts from it', async (t) => {
  const { worker } = setup(t)
  const a = worker()
  failures(a, 10)
  await a.sync()
  await a.close()
  const restarted = worker()
  t.equal(restarted.state, 'closed', 'before its first sync it knows nothing…')
  t.equal(await restarted.admit('job-1'), 'run', '…so a try could start (the limiter stops BullMQ from handing one out)')
  await restarted.sync()
  t.equal(restarted.state, 'open', 'and its first sync reads the shared state')
  t.equal(await restarted.admit('job-1'), 'wait')
})

t.test('a pause never shortens a longer one: an upstream\'s Retry-After does not cut an open breaker\'s wait', async (t) => {
  const { redis, keys, queue } = setup(t)
  t.equal(await pauseProduct(redis, keys, PRODUCT, 5000), true)
  t.equal(await pauseProduct(redis, keys, PRODUCT, 1000), false, 'shorter: kept the longer')
  t.ok(await queue.getRateLimitTtl() > 4000)
  t.equal(await pauseProduct(redis, keys, PRODUCT, 8000), true, 'longer: stretched')
})

t.test('an audited transition leaves its list only while it is the oldest', async (t) => {
  const { worker, redis, keys } = setup(t)
  const a = worker()
  failures(a, 10)
  await a.sync()
  const [first] = await pendingTransitions(redis, keys, PRODUCT)
  t.ok(first)
  t.equal(await ackTransition(redis, keys, PRODUCT, first!.raw), true)
  t.equal(await ackTransition(redis, keys, PRODUCT, first!.raw), false, 'a second intake finds it gone')
  t.same(await pendingTransitions(redis, keys, PRODUCT), [])
})
