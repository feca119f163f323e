import t from 'tap'
import { Redis } from 'ioredis'
import { completedEnvelope } from '@request-out/contracts'
import { TEST_REDIS_URL, deleteKeys, uniquePrefix } from '@request-out/test-support'
import { RecordStore, RecordWaiter, parseTicketKey, ticketFingerprint, ticketKey } from '../src/index.js'

const ticket = { TicketId: 't-1', Subject: 's', SubjectType: 't', SubjectIdentifier: 'i' }
const record = completedEnvelope(ticket, { ResourceType: 'data', Resource: 'nik', ResourceId: '1', Data: null })

t.test('ticket keys are safe BullMQ job ids and injective', async (t) => {
  const ids = [ticketKey('a', '1'), ticketKey('a.b', 'c'), ticketKey('a', 'b.c'), ticketKey('', '123'), ticketKey('client:x', '42')]
  t.equal(new Set(ids).size, ids.length, 'distinct')
  for (const id of ids) {
    t.notMatch(id, /:/, `${id} has no ":"`)
    t.notMatch(id, /^\d+$/, `${id} is not all digits`)
  }
  t.same(parseTicketKey(ticketKey('client:x', 'a.b.c')), { clientId: 'client:x', ticketId: 'a.b.c' })
})

t.test('fingerprints ignore key order and see any change', async (t) => {
  t.equal(ticketFingerprint({ ...ticket, Data: { a: 1, b: { c: 2, d: 3 } } }), ticketFingerprint({ ...ticket, Data: { b: { d: 3, c: 2 }, a: 1 } }))
  t.not(ticketFingerprint({ ...ticket, Data: { a: 1 } }), ticketFingerprint({ ...ticket, Data: { a: 2 } }))
  t.not(ticketFingerprint(ticket), ticketFingerprint({ ...ticket, SubjectIdentifier: 'j' }))
})

t.test('claim, read, write once, expiry, and the wake-up', async (t) => {
  const prefix = uniquePrefix('records')
  const redis = new Redis(TEST_REDIS_URL)
  const subscriber = new Redis(TEST_REDIS_URL)
  t.teardown(async () => {
    redis.disconnect()
    subscriber.disconnect()
    await deleteKeys(prefix)
  })
  const store = new RecordStore(redis, { prefix, ttlSeconds: 120 })
  const waiter = new RecordWaiter(subscriber, prefix)
  await waiter.start()

  t.same(await store.read('c', 't-1'), { exists: false })
  t.same(await store.claim('c', 't-1', 'fp1', 's/t/i'), { outcome: 'claimed' })
  t.same(await store.claim('c', 't-1', 'fp1', 's/t/i'), { outcome: 'existing', sameFields: true, record: undefined })
  t.same(await store.claim('c', 't-1', 'fp2', 's/t/i'), { outcome: 'existing', sameFields: false, record: undefined })
  t.same(await store.read('c', 't-1'), { exists: true, product: 's/t/i', record: undefined })

  const wait = waiter.waitFor(ticketKey('c', 't-1'), 5000)
  t.equal(waiter.waitingCount, 1)
  t.equal(await store.writeRecord('c', 't-1', record), true)
  t.equal(await wait.promise, true, 'the waiter is woken')
  t.equal(waiter.waitingCount, 0)
  t.equal(await store.writeRecord('c', 't-1', { ...record, Message: 'second' }), false, 'written once')
  t.same((await store.read('c', 't-1')), { exists: true, product: 's/t/i', record })
  const ttl = await redis.ttl(`${prefix}:ticket:${ticketKey('c', 't-1')}`)
  t.ok(ttl > 100 && ttl <= 120, `retained for RECORD_TTL_SECONDS (${ttl} s left)`)

  const timeout = waiter.waitFor('nobody', 50)
  t.equal(await timeout.promise, false, 'times out')
  const cancelled = waiter.waitFor('nobody', 5000)
  cancelled.cancel()
  t.equal(await cancelled.promise, false, 'cancel releases')
})

t.test('a PRODUCT_FAILED record gives way to a later outcome; other records are final', async (t) => {
  const prefix = uniquePrefix('records')
  const redis = new Redis(TEST_REDIS_URL)
  t.teardown(async () => {
    redis.disconnect()
    await deleteKeys(prefix)
  })
  const store = new RecordStore(redis, { prefix, ttlSeconds: 120 })
  const failed = { ...record, Status: 'failed' as const, Code: 'PRODUCT_FAILED', StatusCode: 502 }
  t.equal(await store.writeRecord('c', 'x', failed), true)
  t.equal(await store.hasFinalRecord('c', 'x'), false, 'a failed record is not final')
  t.equal(await store.writeRecord('c', 'x', failed), false, 'failed over failed: nothing to do')
  t.equal(await store.writeRecord('c', 'x', record), true, 'a success replaces it (an operator retried)')
  t.equal(await store.hasFinalRecord('c', 'x'), true)
  t.equal(await store.writeRecord('c', 'x', failed), false, 'a success is never replaced')
  t.same((await store.read('c', 'x')), { exists: true, product: '', record })
})
