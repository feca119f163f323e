import t from 'tap'
import { Webhook } from 'standardwebhooks'
import { Redis } from 'ioredis'
import { TEST_REDIS_URL, deleteKeys, uniquePrefix } from '@request-out/test-support'
import { redisKeys } from '@request-out/redis-keys'
import {
  DeliveryFailure, DeliveryState, EndpointStore, checkWebhookUrl, deliveryBackoff, isPublicAddress, newSecret, retryAfterMs, retrySchedule, signature,
  signingSecrets, view, type Endpoint
} from '../src/index.js'

t.test('signatures verify with the standardwebhooks package, with either secret during a rotation', async (t) => {
  const [a, b] = [newSecret(), newSecret()]
  t.match(a, /^whsec_[A-Za-z0-9+/]{43}=$/)
  const body = JSON.stringify({ type: 'ticket.completed', timestamp: new Date().toISOString(), data: { TicketId: 'x' } })
  const ts = Math.floor(Date.now() / 1000)
  const headers = { 'webhook-id': 'msg_1_2_0', 'webhook-timestamp': String(ts), 'webhook-signature': signature([b, a], 'msg_1_2_0', ts, body) }
  t.same(new Webhook(a).verify(body, headers), JSON.parse(body))
  t.same(new Webhook(b).verify(body, headers), JSON.parse(body))
  t.throws(() => new Webhook(newSecret()).verify(body, headers), 'a foreign secret does not verify')
  t.throws(() => new Webhook(a).verify(`${body} `, headers), 'nor a changed body')
})

t.test('the address policy: public addresses only', async (t) => {
  for (const ip of ['127.0.0.1', '10.1.2.3', '172.16.0.1', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '::1', 'fe80::1', 'fd00::1', '::ffff:127.0.0.1', '224.0.0.1',
    // Defects #25.4: ranges that embed or relay IPv4 (IPv4-compatible, 6to4, Teredo), site-local, the 6to4 relay.
    '::127.0.0.1', '::10.0.0.1', '2002:7f00:1::1', '2002:a00:1::1', '2001:0:4136:e378:8000:63bf:3fff:fdd2', 'fec0::1', '192.88.99.1', '64:ff9b:1::a00:1']) {
    t.equal(isPublicAddress(ip), false, `${ip} refused`)
  }
  for (const ip of ['93.184.216.34', '8.8.8.8', '2606:2800:220:1:248:1893:25c8:1946', '::ffff:8.8.8.8']) t.equal(isPublicAddress(ip), true, `${ip} allowed`)
  t.match(await checkWebhookUrl('http://127.0.0.1:9/x', { allowPrivate: false, requireHttps: false }), /not a public address/)
  const named = await checkWebhookUrl('http://localhost/x', { allowPrivate: false, requireHttps: false })
  t.match(named, /^host localhost is not a public address .*WEBHOOK_ALLOW_PRIVATE_NETWORKS/, 'names are resolved; the setting that allows it is named')
  t.notMatch(named, /127\.0\.0\.1|::1/, 'what the name resolves to is not told')
  t.equal(await checkWebhookUrl('http://127.0.0.1:9/x', { allowPrivate: true, requireHttps: false }), undefined)
  t.match(await checkWebhookUrl('http://93.184.216.34/x', { allowPrivate: false, requireHttps: true }), /https/)
  t.match(await checkWebhookUrl('https://user:pw@93.184.216.34/x', { allowPrivate: false, requireHttps: true }), /credentials/)
  t.match(await checkWebhookUrl('ftp://93.184.216.34/x', { allowPrivate: false, requireHttps: false }), /http/)
})

t.test('the retry schedule: its delays with jitter, or the receiver\'s Retry-After', async (t) => {
  const schedule = retrySchedule('5,300,1800')
  t.same(schedule, [5000, 300_000, 1_800_000])
  const backoff = deliveryBackoff(schedule)
  for (let n = 1; n <= 3; n++) {
    const d = backoff(n)
    const base = schedule[n - 1] as number
    t.ok(d >= base * 0.8 && d <= base * 1.2, `retry ${n}: ${d} ms, within 20 % of ${base}`)
  }
  t.equal(backoff(1, 'webhook', new DeliveryFailure('503', 42_000)), 42_000)
  t.equal(retryAfterMs('120'), 120_000)
  t.ok((retryAfterMs(new Date(Date.now() + 60_000).toUTCString()) ?? 0) > 50_000, 'an HTTP date')
  t.equal(retryAfterMs(undefined), undefined)
})

t.test('defects #25.4: endpoint writes are atomic; two secrets at most; an operator\'s disable stays until an operator enables', async (t) => {
  const redis = new Redis(TEST_REDIS_URL)
  const prefix = uniquePrefix('endpoints')
  t.teardown(async () => { redis.disconnect(); await deleteKeys(prefix) })
  const store = new EndpointStore(redis, prefix)

  // Ten first registrations at once: one is the registration (its secret signs), the others change it.
  const puts = await Promise.all(Array.from({ length: 10 }, async (_, i) => store.put('c1', `https://example.com/hook-${i}`)))
  const created = puts.filter((p) => p.secret !== undefined)
  t.equal(created.length, 1, 'one answer carries a secret')
  t.same(signingSecrets(await store.get('c1') as Endpoint), [created[0]?.secret], 'and it is the secret that signs')

  // Two rotations at once: both answered secrets sign (the newer as current, the other in its grace).
  const both = await Promise.all([store.rotate('c1'), store.rotate('c1')])
  t.same(new Set(signingSecrets(await store.get('c1') as Endpoint)), new Set(both.map((r) => r?.secret)), 'no answered secret is lost')
  // Thirty rotations: the current secret and the one before it, not 31.
  for (let i = 0; i < 30; i++) await store.rotate('c1')
  const after = await store.get('c1') as Endpoint
  t.equal(after.Secrets.length, 2, 'a rotation during the previous secret\'s grace ends that grace')
  t.equal(after.Secrets.filter((s) => s.Until === null).length, 1)

  // An operator's disable: the client's PUT changes the URL but does not enable it.
  await store.setEnabled('c1', false, 'disabled by an operator', 'operator')
  const { endpoint } = await store.put('c1', 'https://example.com/again')
  t.match(endpoint, { Url: 'https://example.com/again', Enabled: false, DisabledReason: 'disabled by an operator' })
  await store.setEnabled('c1', false, 'the receiver answered 410 Gone', 'receiver')
  t.match(await store.get('c1'), { Enabled: false, DisabledReason: 'disabled by an operator' }, 'a receiver\'s 410 does not replace the operator\'s reason')
  await store.setEnabled('c1', true)
  t.match(await store.get('c1'), { Enabled: true, DisabledReason: null }, 'an operator enables it')
  // A receiver's 410 ends with the client's next PUT (it fixed its receiver).
  await store.setEnabled('c1', false, 'the receiver answered 410 Gone', 'receiver')
  t.match((await store.put('c1', 'https://example.com/fixed')).endpoint, { Enabled: true, DisabledReason: null })
  t.same(view(await store.get('c1') as Endpoint).Enabled, true)
  t.notOk('DisabledBy' in view(await store.get('c1') as Endpoint), 'who disabled it is not part of the API\'s view')
})

t.test('delivery state: frozen events, the attempt log and the outcome counts keep their retention; the endpoint breaker opens after 20 failures, sends one probe when due, takes a probe back, and closes on a success', async (t) => {
  const redis = new Redis(TEST_REDIS_URL)
  const prefix = uniquePrefix('delivery-state')
  t.teardown(async () => { redis.disconnect(); await deleteKeys(prefix) })
  const keys = redisKeys(prefix)
  const state = new DeliveryState(redis, prefix, 600)

  await state.freeze('ticket-1', { webhookId: 'msg_a', type: 'ticket.completed', timestamp: 1, body: '{"a":1}' })
  await state.freeze('ticket-1', { webhookId: 'msg_b', type: 'ticket.failed', timestamp: 2, body: '{"b":2}' })
  t.match(await state.frozen('ticket-1'), { webhookId: 'msg_b', body: '{"b":2}' }, 'the newest event is the one a re-send sends')
  t.match(await state.event('ticket-1', 'msg_a'), { webhookId: 'msg_a', body: '{"a":1}' }, 'each event stays as it was frozen')
  t.ok(await redis.ttl(keys.webhookEvents('ticket-1')) > 590, 'the events expire with the retention')

  for (let i = 1; i <= 101; i++) await state.logAttempt('ticket-1', { At: new Date().toISOString(), WebhookId: 'msg_a', Type: 'ticket.completed', Attempt: i, Status: 500, Error: null, DurationMs: 1 })
  const attempts = await state.attempts('ticket-1')
  t.equal(attempts.length, 100, 'the last 100 attempts are kept')
  t.equal(attempts[0]?.Attempt, 101, 'newest first')
  t.ok(await redis.ttl(keys.webhookLog('ticket-1')) > 590, 'the log expires with the retention')

  t.same(await state.breaker('c1'), { go: true, probe: false }, 'a new endpoint is closed')
  for (let i = 0; i < 19; i++) await state.failed('c1')
  t.same(await state.breaker('c1'), { go: true, probe: false }, '19 failures in a row: still closed')
  await state.failed('c1')
  const open = await state.breaker('c1')
  t.ok(!open.go && open.untilMs > Date.now() + 25_000, 'the 20th opens it for 30 s')
  // Due: the open period is over.
  await redis.hset(keys.webhookBreaker('c1'), 'openUntil', String(Date.now() - 1))
  t.same(await state.breaker('c1'), { go: true, probe: true }, 'one delivery probes')
  t.match(await state.breaker('c1'), { go: false }, 'the others wait for its outcome')
  await state.returnProbe('c1')
  t.same(await state.breaker('c1'), { go: true, probe: true }, 'a probe given back (no in-flight place was free) lets the next delivery probe')
  await state.succeeded('c1')
  t.same(await state.breaker('c1'), { go: true, probe: false }, 'a success closes it')
  t.same(await state.recent('c1'), { ok: 1, failed: 20 }, 'outcomes are counted per hour')
  const statsTtl = await redis.ttl(keys.webhookStats('c1', Math.floor(Date.now() / 3600_000)))
  t.ok(statsTtl > 7000 && statsTtl <= 7200, 'and kept two hours')
})
