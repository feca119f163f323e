import t from 'tap'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { productKey } from '@request-out/contracts'
import {
  TEST_REDIS_URL, createTestDatabase, deleteKeys, hasRedisCluster, openEventStream, spawnWorker, startPrivateCluster, uniquePrefix, waitFor
} from '@request-out/test-support'
import { buildApp } from '../src/app.js'
import { loadIntakeConfig } from '../src/config.js'
import { SEED_TICKET, getTicket, postTicket, startIntake, tokenFor } from './helpers.js'
import { redisKeys } from '@request-out/redis-keys'
import type { AddressInfo } from 'node:net'

const clusterSkip = hasRedisCluster() ? false : 'SKIPPED LOUDLY: redis-server or redis-cli is not installed, no Redis Cluster test'
if (clusterSkip !== false) console.error(`\n*** ${clusterSkip} ***\n`)

t.test('on a real 3-master Redis Cluster: the contract end to end, product queues on different nodes', { skip: clusterSkip }, async (t) => {
  const cluster = await startPrivateCluster(3)
  t.teardown(async () => cluster.destroy())
  const probe = new Redis(cluster.ports[0] as number, '127.0.0.1')
  t.teardown(() => probe.disconnect())
  const slotOf = async (key: string): Promise<number> => Number(await probe.cluster('KEYSLOT', `{${key}}`))

  // The sandbox product, and a second product whose queue hashes to another master.
  const first = { Subject: 'digitalid', SubjectType: 'enrollment', SubjectIdentifier: 'ektp' }
  const firstPort = await cluster.portForSlot(await slotOf(productKey(first)))
  let second = { Subject: 'cluster', SubjectType: 'check', SubjectIdentifier: 'p0' }
  for (let i = 0; i < 50; i++) {
    second = { Subject: 'cluster', SubjectType: 'check', SubjectIdentifier: `p${i}` }
    if (await cluster.portForSlot(await slotOf(productKey(second))) !== firstPort) break
  }
  const secondPort = await cluster.portForSlot(await slotOf(productKey(second)))
  t.not(secondPort, firstPort, 'the two products hash to different masters')

  const catalog = join(mkdtempSync(join(tmpdir(), 'rotest-cl-')), 'products.json')
  writeFileSync(catalog, JSON.stringify({ Products: [{ ...first, Name: 'one', Kind: 'sandbox' }, { ...second, Name: 'two', Kind: 'sandbox' }] }))
  const prefix = uniquePrefix('cluster')
  const db = await createTestDatabase()
  t.teardown(db.drop)
  const env = { REDIS_CLUSTER_NODES: cluster.nodes, QUEUE_PREFIX: prefix, PRODUCTS_FILE: catalog, DATABASE_URL: db.url }
  const app = await buildApp(loadIntakeConfig({ ...env, LOG_LEVEL: 'silent' }), { logger: false })
  t.teardown(async () => app.close())
  await app.ready()
  await waitFor('the intake on the cluster', () => app.redis.isReady() && app.revocations.loaded, 20_000)
  const worker = await spawnWorker({ ...env, LOG_LEVEL: 'info' })
  t.teardown(async () => worker.stop())
  const writer = await spawnWorker({ ...env, WORKER_ROLE: 'history', HISTORY_POLL_MS: '20' })
  t.teardown(async () => writer.stop())

  const token = tokenFor('demo-client')
  for (const [product, id] of [[first, 'on-cluster-1'], [second, 'on-cluster-2']] as const) {
    const res = await postTicket(app, token, { ...product, TicketId: id }, { prefer: 'wait=15' })
    t.equal(res.statusCode, 200, `${productKey(product)}: the record, through a long poll woken on the cluster`)
    t.match(res.json(), { TicketId: id, StatusCode: 200, Data: { Source: 'sandbox' } })
    t.equal((await getTicket(app, token, id)).statusCode, 200, `${productKey(product)}: GET finds it`)
    const events = await app.recordStore.eventsOf('demo-client', id)
    t.same(events.map((e) => e.type), ['accepted', 'record'], `${id}: its events, read from its group's stream on the cluster`)
    t.match(events[1], { fields: { code: 'SUCCESS', tries: '1' } })
  }
  // Event streams on the cluster: the feed reads each group's stream in its own slot.
  await app.listen({ port: 0, host: '127.0.0.1' })
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
  const everything = await openEventStream(`${base}/v1/events?Type=record`, { authorization: `Bearer ${token}` })
  t.teardown(() => everything.close())
  t.equal(everything.status, 200)
  t.equal((await postTicket(app, token, { ...second, TicketId: 'watched-on-cluster' })).statusCode, 202)
  const watched = await openEventStream(`${base}/v1/request-out/watched-on-cluster/events`, { authorization: `Bearer ${token}` })
  t.same((await watched.rest(15_000)).map((e) => e.event), ['accepted', 'record'], 'a ticket\'s stream on the cluster: its events, then the end')
  t.match(JSON.parse((await everything.next(15_000))?.data ?? '{}'), { Type: 'record', TicketId: 'watched-on-cluster', Code: 'SUCCESS' }, 'GET /v1/events on the cluster')

  t.equal((await postTicket(app, token, { ...first, TicketId: 'on-cluster-1', Data: { NIK: '3201015508900001' } })).statusCode, 409, 'idempotency holds on the cluster')
  const off = await app.inject({
    method: 'PUT', url: `/v1/products/${productKey(second)}/availability`, headers: { authorization: `Bearer ${tokenFor('demo-admin', 'admin')}` }, payload: { Available: false }
  })
  t.equal(off.statusCode, 200, 'availability switch on the cluster')
  t.match((await postTicket(app, token, { ...second, TicketId: 'while-off' })).json(), { Code: 'PRODUCT_NOT_AVAILABLE' })

  // The history writer reads every group's stream on the cluster: both tickets and the switch's audit entry.
  const admin = { authorization: `Bearer ${tokenFor('demo-admin', 'admin')}` }
  const historyOf = async (url: string): Promise<Record<string, unknown> | undefined> => {
    const res = await app.inject({ method: 'GET', url, headers: admin })
    return res.statusCode === 200 ? (res.json() as { Data: Record<string, unknown> }).Data : undefined
  }
  await waitFor('the three tickets and the audit entry in history', async () =>
    ((await historyOf('/v1/admin/tickets?ClientId=demo-client&Code=SUCCESS'))?.Tickets as unknown[] | undefined)?.length === 3 &&
    ((await historyOf('/v1/admin/audit?Action=availability.set'))?.Entries as unknown[] | undefined)?.length === 1, 20_000, 100)
  t.pass('history is complete on the cluster')

  // Each product's queue keys live on its own master, and only there.
  for (const [product, owner] of [[first, firstPort], [second, secondPort]] as const) {
    const { prefix: queuePrefix } = redisKeys(prefix).productQueue(productKey(product))
    for (const port of cluster.ports) {
      const node = new Redis(port, '127.0.0.1')
      const [, keys] = await node.scan('0', 'MATCH', `${queuePrefix}:*`, 'COUNT', 10_000)
      node.disconnect()
      if (port === owner) t.ok(keys.length > 0, `${productKey(product)}: queue keys on its master ${port}`)
      else t.equal(keys.length, 0, `${productKey(product)}: no queue keys on ${port}`)
    }
  }
})

t.test('two intakes behind a load balancer: POST on one, poll on the other, long poll woken across', async (t) => {
  const a = await startIntake(t)
  const b = await startIntake(t, {}, a.prefix)
  t.teardown(async () => deleteKeys(a.prefix))
  const token = tokenFor('lb-client')

  // Worker not started yet: the ticket waits, and B's long poll is pending when the record comes.
  t.equal((await postTicket(a.app, token, { ...SEED_TICKET, TicketId: 'across' })).statusCode, 202, 'accepted by intake A')
  t.match((await getTicket(b.app, token, 'across')).json(), { Code: 'IN_PROCESS' }, 'intake B sees it in process')
  const poll = getTicket(b.app, token, 'across', { prefer: 'wait=20' })
  const worker = await spawnWorker({ REDIS_URL: TEST_REDIS_URL, QUEUE_PREFIX: a.prefix, LOG_LEVEL: 'info' })
  t.teardown(async () => worker.stop())
  const res = await poll
  t.equal(res.statusCode, 200, "B's long poll is woken by the record the worker stored")
  t.equal(res.headers['preference-applied'], 'wait=20')
  t.equal((await getTicket(a.app, token, 'across')).statusCode, 200, 'and A answers it too')
  t.equal((await postTicket(b.app, token, { ...SEED_TICKET, TicketId: 'across' })).statusCode, 200, 'a re-POST to B answers the record, nothing enqueued')
})
