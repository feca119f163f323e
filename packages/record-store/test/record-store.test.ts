import t from 'tap'
import { createHash } from 'node:crypto'
import { Redis } from 'ioredis'
import { completedEnvelope } from '@request-out/contracts'
import { TEST_REDIS_URL, deleteKeys, uniquePrefix, waitFor } from '@request-out/test-support'
import {
  RecordStore, RecordWaiter, TicketEventFeed, eventId, parseEventId, readStreamAfter, trimEventStreams, watchRecords, TicketFingerprints, ERASED_FINGERPRINT,
  type FingerprintedTicket, type StreamEvent
} from '../src/index.js'
import { TICKET_GROUPS, redisKeys, ticketGroup, ticketKey } from '@request-out/redis-keys'

/** A record store under a prefix of its own on the test Redis, cleaned up after the test. */
function storeFor (t: { teardown: (fn: () => unknown) => void }, label: string): { prefix: string, redis: Redis, store: RecordStore } {
  const prefix = uniquePrefix(label)
  const redis = new Redis(TEST_REDIS_URL)
  t.teardown(async () => {
    redis.disconnect()
    await deleteKeys(prefix)
  })
  return { prefix, redis, store: new RecordStore(redis, { prefix, ttlSeconds: 120 }) }
}

const ticket: FingerprintedTicket & { TicketId: string } = { TicketId: 't-1', Subject: 's', SubjectType: 't', SubjectIdentifier: 'i' }
const record = completedEnvelope(ticket, { ResourceType: 'data', Resource: 'nik', ResourceId: '1', Data: null })

t.test('fingerprints ignore key order and see any change', async (t) => {
  const f = new TicketFingerprints('a-key-of-the-test-a-key-of-the-test')
  t.equal(f.of({ ...ticket, Data: { a: 1, b: { c: 2, d: 3 } } }).value, f.of({ ...ticket, Data: { b: { d: 3, c: 2 }, a: 1 } }).value)
  t.not(f.of({ ...ticket, Data: { a: 1 } }).value, f.of({ ...ticket, Data: { a: 2 } }).value)
  t.not(f.of(ticket).value, f.of({ ...ticket, SubjectIdentifier: 'j' }).value)
})

t.test('a fingerprint is an HMAC under the key, with the key id beside it: nothing to try values against without the key', async (t) => {
  const nik = (n: number): typeof ticket => ({ ...ticket, Data: { NIK: `32010112${String(n).padStart(8, '0')}` } })
  const unsalted = createHash('sha256').update(JSON.stringify(['s', 't', 'i', { NIK: '3201011200000042' }])).digest('base64url')
  const f = new TicketFingerprints('a-key-of-the-test-a-key-of-the-test')
  const stored = f.of(nik(42)).value
  t.match(stored, /^[\w-]{8}\.[\w-]{43}$/, '<key id>.<mac>')
  t.not(stored.split('.')[1], unsalted, 'not the bare SHA-256 of the fields')
  t.not(stored, new TicketFingerprints('another-key-another-key-another-key').of(nik(42)).value, 'another key, another fingerprint')
  t.notOk([...Array(100).keys()].some((n) => createHash('sha256').update(JSON.stringify(['s', 't', 'i', { NIK: `32010112${String(n).padStart(8, '0')}` }])).digest('base64url') === stored.split('.')[1]),
    'trying NIKs without the key finds nothing')
  t.ok(f.of(nik(42)).matches(stored))
  t.notOk(f.of(nik(43)).matches(stored), 'other fields under the same key: a conflict')
})

t.test('after a key change, fingerprints under the previous key still compare; an unknown or erased one counts as the same ticket', async (t) => {
  const old = new TicketFingerprints('the-old-key-the-old-key-the-old-key')
  const stored = old.of(ticket).value
  const rotated = new TicketFingerprints('the-new-key-the-new-key-the-new-key', 'the-old-key-the-old-key-the-old-key')
  t.ok(rotated.of(ticket).matches(stored), 'same fields under the previous key')
  t.notOk(rotated.of({ ...ticket, Data: { a: 1 } }).matches(stored), 'other fields under the previous key: still a conflict')
  const forgotten = new TicketFingerprints('the-new-key-the-new-key-the-new-key')
  t.ok(forgotten.of({ ...ticket, Data: { a: 1 } }).matches(stored), 'a key no intake knows: cannot compare, so no 409')
  t.ok(forgotten.of(ticket).matches(ERASED_FINGERPRINT), 'erased: the re-POST answers the ticket')
  const legacy = createHash('sha256').update(JSON.stringify(['s', 't', 'i', null])).digest('base64url')
  t.ok(forgotten.of(ticket).matches(legacy), 'one stored before keys (a bare SHA-256) compares as it was made')
  t.notOk(forgotten.of({ ...ticket, Data: { a: 1 } }).matches(legacy))
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
  const first = await store.claim('c', 't-1', 'fp1', 's/t/i')
  t.match(first, { outcome: 'claimed', acceptedAt: Number })
  t.same(await store.claim('c', 't-1', 'fp1', 's/t/i'), { outcome: 'existing', sameFields: true, record: undefined, cancelRequested: false, acceptedAt: first.acceptedAt },
    'a re-claim tells the acceptance time the first claim stored')
  t.same(await store.claim('c', 't-1', 'fp2', 's/t/i'), { outcome: 'existing', sameFields: false, record: undefined, cancelRequested: false, acceptedAt: first.acceptedAt })
  t.equal(await store.acceptedAt('c', 't-1'), first.acceptedAt)
  t.same(await store.read('c', 't-1'), { exists: true, product: 's/t/i', record: undefined })

  const wait = waiter.waitFor(ticketKey('c', 't-1'), 5000)
  t.equal(waiter.waitingCount, 1)
  t.same(await store.read('c', 't-1', true), { exists: true, product: 's/t/i', record: undefined }, 'the long poll reads it, watching')
  t.equal(await store.writeRecord('c', 't-1', record), true)
  t.equal(await wait.promise, true, 'the waiter is woken')
  t.equal(waiter.waitingCount, 0)
  t.equal(await store.writeRecord('c', 't-1', { ...record, Message: 'second' }), false, 'written once')
  t.same((await store.read('c', 't-1')), { exists: true, product: 's/t/i', record })
  const ttl = await redis.ttl(redisKeys(prefix).ticket('c', 't-1'))
  t.ok(ttl > 100 && ttl <= 120, `retained for RECORD_TTL_SECONDS (${ttl} s left)`)

  const timeout = waiter.waitFor('nobody', 50)
  t.equal(await timeout.promise, false, 'times out')
  const cancelled = waiter.waitFor('nobody', 5000)
  cancelled.cancel()
  t.equal(await cancelled.promise, false, 'cancel releases')
})

t.test('records are announced only for tickets a long poll watches; a watcher of the streams sees every one, in order', async (t) => {
  const { prefix, store } = storeFor(t, 'announce')
  const subscriber = new Redis(TEST_REDIS_URL)
  const streams = new Redis(TEST_REDIS_URL)
  const announced: string[] = []
  subscriber.on('message', (_c: string, key: string) => announced.push(key))
  await subscriber.subscribe(redisKeys(prefix).records)
  const seen: string[] = []
  const watcher = await watchRecords(streams, prefix, (key) => seen.push(key))
  t.teardown(async () => {
    await watcher.stop()
    streams.disconnect()
    subscriber.disconnect()
  })
  for (const id of ['quiet-1', 'waited', 'quiet-2']) await store.claim('c', id, 'fp', 's/t/i')
  t.same(await store.read('c', 'waited', true), { exists: true, product: 's/t/i', record: undefined })
  for (const id of ['quiet-1', 'waited', 'quiet-2']) t.equal(await store.writeRecord('c', id, { ...record, TicketId: id }), true)
  await waitFor('every record seen in the streams', () => seen.length >= 3, 5000)
  t.same(seen, ['quiet-1', 'waited', 'quiet-2'].map((id) => ticketKey('c', id)), 'in the order stored, across ticket groups')
  await new Promise((resolve) => setTimeout(resolve, 100))
  t.same(announced, [ticketKey('c', 'waited')], 'only the watched ticket is announced')
  t.same(await store.read('c', 'quiet-1', true), { exists: true, product: 's/t/i', record: { ...record, TicketId: 'quiet-1' } }, 'a watching read of a ticket with its record reads it')
})

t.test('a PRODUCT_FAILED record gives way to a later outcome; other records are final', async (t) => {
  const { store } = storeFor(t, 'records')
  const failed = { ...record, Status: 'failed' as const, Code: 'PRODUCT_FAILED', StatusCode: 502 }
  const firstTry = { startedAt: 1_000, tries: 3, tryId: '1000' }
  t.equal(await store.writeRecord('c', 'x', failed, firstTry), true)
  t.equal(await store.hasFinalRecord('c', 'x'), false, 'a failed record is not final')
  t.equal(await store.writeRecord('c', 'x', failed, firstTry), false, 'the same try\'s failure written twice: one write')
  // Defects #25.9: an operator's retry that fails again is a new outcome, with its own record event.
  t.equal(await store.writeRecord('c', 'x', { ...failed, Message: 'failed again' }, { startedAt: 2_000, tries: 1, tryId: '2000' }), true, 'failed again on a later try: written')
  t.same((await store.eventsOf('c', 'x')).filter((e) => e.type === 'record').map((e) => [e.fields.code, e.fields.startedAt]), [['PRODUCT_FAILED', '1000'], ['PRODUCT_FAILED', '2000']], 'each outcome appends its record event')
  t.equal(await store.writeRecord('c', 'x', failed), false, 'a failure that names no try does not replace one')
  t.equal(await store.writeRecord('c', 'x', record), true, 'a success replaces it (an operator retried)')
  t.equal(await store.hasFinalRecord('c', 'x'), true)
  t.equal(await store.writeRecord('c', 'x', failed), false, 'a success is never replaced')
  t.same((await store.read('c', 'x')), { exists: true, product: '', record })
})

t.test('every change of a ticket is appended to its group\'s event stream by the script that makes it', async (t) => {
  const { prefix, store } = storeFor(t, 'events')
  await store.claim('c', 'ev-1', 'fp1', 's/t/i', 'req-1')
  await store.claim('c', 'ev-1', 'fp1', 's/t/i', 'req-2')
  await store.recordFailedTry('c', 'ev-1', { attempt: 1, error: 'upstream answered 503', startedAt: Date.now() - 5, worker: 'test:1' })
  const startedAt = Date.now()
  await store.writeRecord('c', 'ev-1', record, { startedAt, tries: 2 })
  await store.writeRecord('c', 'ev-1', { ...record, Message: 'a duplicate delivery' }, { startedAt, tries: 3 })
  await store.claim('c', 'other', 'fp', 's/t/i')

  const events = await store.eventsOf('c', 'ev-1')
  t.same(events.map((e) => e.type), ['accepted', 'try-failed', 'record'], 'one event per change; a repeated claim or a refused write appends nothing')
  t.match(events[0], { clientId: 'c', ticketId: 'ev-1', fields: { product: 's/t/i', requestId: 'req-1' } })
  t.notOk('fp' in (events[0]?.fields ?? {}), 'the fingerprint is not in the stream')
  t.match(events[1], { fields: { attempt: '1', error: 'upstream answered 503' } })
  t.match(events[2], { fields: { code: 'SUCCESS', startedAt: String(startedAt), tries: '2' } })
  t.notOk('record' in (events[2]?.fields ?? {}), 'the record event carries no record: its personal values stay in the hash')
  const position = (id: string): [number, number] => id.split('-').map(Number) as [number, number]
  t.ok(events.every((e, i) => {
    if (i === 0) return true
    const [ms, seq] = position(e.id)
    const [prevMs, prevSeq] = position(events[i - 1]?.id ?? '0-0')
    return ms > prevMs || (ms === prevMs && seq > prevSeq)
  }), 'in stream order')

  const group = ticketGroup('c', 'ev-1')
  t.ok(group >= 0 && group < TICKET_GROUPS)
  const key = redisKeys(prefix).ticket('c', 'ev-1')
  const stream = redisKeys(prefix).ticketEvents(group)
  t.equal(/\{[^}]+\}/.exec(key)?.[0], /\{[^}]+\}/.exec(stream)?.[0], 'the ticket and its stream share one hash tag (one cluster slot)')
  const groups = new Set(Array.from({ length: 2000 }, (_, i) => ticketGroup(`client-${i % 7}`, `ticket-${i}`)))
  t.equal(groups.size, TICKET_GROUPS, 'tickets spread over every group')
})

t.test('event streams are trimmed to what their consumers still need', async (t) => {
  const { prefix, redis, store } = storeFor(t, 'events')
  for (let i = 0; i < 5; i++) await store.claim('c', 'trim-me', `fp${i}`, 's/t/i').then(async () => redis.del(redisKeys(prefix).ticket('c', 'trim-me')))
  const stream = redisKeys(prefix).ticketEvents(ticketGroup('c', 'trim-me'))
  t.equal(await redis.xlen(stream), 5)
  await trimEventStreams(redis, prefix, { unconsumedMs: 3_600_000, keepMs: 0 })
  t.equal(await redis.xlen(stream), 5, 'no consumer: events younger than the retention stay')

  await redis.xgroup('CREATE', stream, 'history', '0')
  const read = await redis.xreadgroup('GROUP', 'history', 'one', 'COUNT', 3, 'STREAMS', stream, '>') as Array<[string, Array<[string, string[]]>]>
  const ids = read[0]?.[1].map(([id]) => id) ?? []
  await redis.xack(stream, 'history', ids[0] ?? '', ids[1] ?? '')
  await trimEventStreams(redis, prefix, { unconsumedMs: 3_600_000, keepMs: 0 })
  t.equal(await redis.xlen(stream), 3, 'entries acknowledged by every group go; the unacknowledged one and the unread stay')
  await redis.xack(stream, 'history', ids[2] ?? '')
  await trimEventStreams(redis, prefix, { unconsumedMs: 3_600_000, keepMs: 0 })
  t.equal(await redis.xlen(stream), 3, 'the last delivered entry is kept as the marker, the unread two stay')
  await trimEventStreams(redis, prefix, { unconsumedMs: 0, keepMs: 0 })
  t.equal(await redis.xlen(stream), 3, 'a consumer that is behind keeps its events whatever the retention')
  await redis.xack(stream, 'history', ...(await redis.xreadgroup('GROUP', 'history', 'one', 'STREAMS', stream, '>') as Array<[string, Array<[string, string[]]>]>)[0]?.[1].map(([id]) => id) ?? [])
  await trimEventStreams(redis, prefix, { unconsumedMs: 0, keepMs: 3_600_000 })
  t.equal(await redis.xlen(stream), 3, 'events read by every group stay for the event retention (event streams resume from them)')
  await trimEventStreams(redis, prefix, { unconsumedMs: 0, keepMs: 0 })
  t.equal(await redis.xlen(stream), 1, 'past the retention, only the last delivered entry stays as the marker')
})

t.test('cancellation: asked once, announced, seen by claims and deliveries; a final ticket is not cancelled', async (t) => {
  const { prefix, redis, store } = storeFor(t, 'cancel')
  const heard: string[] = []
  const sub = new Redis(TEST_REDIS_URL)
  t.teardown(() => sub.disconnect())
  sub.on('message', (_c: string, key: string) => heard.push(key))
  await sub.subscribe(redisKeys(prefix).cancels)
  t.same(await store.requestCancel('c', 'none', 'c'), { outcome: 'unknown' })
  await store.claim('c', 'x', 'fp', 's/t/i')
  t.same(await store.deliveryState('c', 'x'), { finalCode: undefined, cancelRequested: false })
  t.same(await store.requestCancel('c', 'x', 'ops'), { outcome: 'requested', product: 's/t/i' })
  t.same(await store.requestCancel('c', 'x', 'ops'), { outcome: 'already-requested', product: 's/t/i' }, 'asked once')
  t.same(await store.deliveryState('c', 'x'), { finalCode: undefined, cancelRequested: true })
  t.match(await store.claim('c', 'x', 'fp', 's/t/i'), { outcome: 'existing', cancelRequested: true })
  const events = await store.eventsOf('c', 'x')
  t.match(events.map((e) => e.type), ['accepted', 'cancel-requested'])
  t.match(events[1]?.fields, { by: 'ops', acceptedAt: /^\d+$/ })
  await waitFor('the announcement', () => heard.length === 1, 2000)
  t.same(heard, [ticketKey('c', 'x')], 'announced once')
  await store.claim('c', 'y', 'fp', 's/t/i')
  await store.writeRecord('c', 'y', record)
  t.match(await store.requestCancel('c', 'y', 'c'), { outcome: 'final', product: 's/t/i', record: { StatusCode: 200 } })
  t.equal(await redis.hget(redisKeys(prefix).ticket('c', 'y'), 'cancel'), null, 'a final ticket is not marked')
})

t.test('an event\'s one id names its group and entry; a catch-up read says when the stream was trimmed past it', async (t) => {
  t.equal(eventId(12, '1795912345678-3'), 'msg_12_1795912345678_3')
  t.same(parseEventId('msg_12_1795912345678_3'), { group: 12, streamId: '1795912345678-3' })
  t.equal(parseEventId('msg_12_x_3'), undefined)
  t.equal(parseEventId('c1.abc'), undefined)

  const { prefix, redis, store } = storeFor(t, 'catchup')
  const group = ticketGroup('c', 'late')
  const stream = redisKeys(prefix).ticketEvents(group)
  await store.claim('c', 'late', 'fp', 's/t/i')
  const first = (await redis.xrange(stream, '-', '+'))[0]?.[0] ?? ''
  await store.writeRecord('c', 'late', { ...record, TicketId: 'late' })
  const mine = (e: StreamEvent): boolean => e.ticketId === 'late'
  const all = await readStreamAfter(redis, stream, group, '0-0', mine)
  t.same(all.events.map((e) => e.type), ['accepted', 'record'])
  t.ok(all.complete)
  t.match(all.events[1]?.fields, { product: 's/t/i', code: 'SUCCESS' }, 'a record event names its product')
  const after = await readStreamAfter(redis, stream, group, first, mine)
  t.same(after.events.map((e) => e.type), ['record'], 'after an entry: only what came later')
  await trimEventStreams(redis, prefix, { unconsumedMs: 0, keepMs: 0 })
  t.equal(await redis.xlen(stream), 0, 'with no consumer group and no retention, every entry went')
  t.notOk((await readStreamAfter(redis, stream, group, '0-0', mine)).complete, 'trimmed past the position: not complete')
  t.notOk((await readStreamAfter(redis, stream, group, first, mine)).complete, 'the record after the first event went too: not complete')
  t.ok((await readStreamAfter(redis, stream, group, after.last, mine)).complete, 'after the newest entry the trim removed: complete (XTRIM alone would not tell)')
})

t.test('the feed hands each subscriber its client\'s new events only, and reads only while someone is subscribed', async (t) => {
  const { prefix, redis, store } = storeFor(t, 'feed')
  // Named, so the check below sees this feed's reader alone (tests running beside it read streams too).
  const readerName = `feed-test-${process.pid}-${Date.now()}`
  const feed = new TicketEventFeed({ prefix, connect: () => new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null, connectionName: readerName }), onError: () => {} })
  t.teardown(async () => { await feed.close() })
  await store.claim('a', 'before', 'fp', 's/t/i')
  const seenA: string[] = []
  const seenB: string[] = []
  const a = await feed.subscribe('a', (e) => seenA.push(e.ticketId), { positions: true })
  const b = await feed.subscribe('b', (e) => seenB.push(e.ticketId))
  const seenOne: string[] = []
  const one = await feed.subscribe('a', (e) => seenOne.push(e.ticketId), { ticketId: 'a-2' })
  t.equal(a.positions.length, TICKET_GROUPS, 'a position per group')
  t.same(one.positions, [], 'no positions kept unless asked for')
  await store.claim('a', 'a-1', 'fp', 's/t/i')
  await store.claim('b', 'b-1', 'fp', 's/t/i')
  await store.claim('a', 'a-2', 'fp', 's/t/i')
  await waitFor('the events', () => seenA.length + seenB.length + seenOne.length >= 4, 5000)
  t.same(seenA, ['a-1', 'a-2'], 'only events after the subscription, only its client\'s')
  t.same(seenB, ['b-1'])
  t.same(seenOne, ['a-2'], 'a ticket\'s subscription gets that ticket\'s only')
  a.close()
  b.close()
  one.close()
  t.equal(feed.subscribers, 0)
  await new Promise((resolve) => setTimeout(resolve, 100))
  const readers = (await redis.client('LIST') as string).split('\n').filter((line) => line.includes(`name=${readerName} `))
  t.equal(readers.filter((line) => /cmd=xread\b/.test(line)).length, 0, 'no reader blocks once the last subscriber left')
})
