import t, { type Test } from 'tap'
import { Redis } from 'ioredis'
import pg from 'pg'
import { completedEnvelope, failedEnvelope } from '@request-out/contracts'
import { RecordStore, attachRecords, type StreamEvent } from '@request-out/record-store'
import { TEST_REDIS_URL, createTestDatabase, deleteKeys, uniquePrefix, waitFor } from '@request-out/test-support'
import { ERASED, HistoryStore, HistoryWriter, BadCursorError, historyBacklog, migrateHistory } from '../src/index.js'
import { redisKeys, ticketGroup, ticketKey } from '@request-out/redis-keys'

interface Setup {
  prefix: string
  redis: Redis
  records: RecordStore
  pool: pg.Pool
  history: HistoryStore
  /** Stopped before the database goes: a writer still querying a dropped database fails its test's teardown. */
  writers: HistoryWriter[]
}

async function setup (t: Test, label: string): Promise<Setup> {
  const db = await createTestDatabase()
  await migrateHistory(db.url)
  const pool = new pg.Pool({ connectionString: db.url })
  const prefix = uniquePrefix(label)
  const redis = new Redis(TEST_REDIS_URL)
  const writers: HistoryWriter[] = []
  t.teardown(async () => {
    await Promise.all(writers.map(async (w) => w.stop()))
    redis.disconnect()
    await pool.end()
    await db.drop()
    await deleteKeys(prefix)
  })
  return { prefix, redis, records: new RecordStore(redis, { prefix, ttlSeconds: 600 }), pool, history: new HistoryStore(pool), writers }
}

function writer (s: Setup, batchSize = 100): HistoryWriter {
  const w = new HistoryWriter(s.redis, s.history, {
    prefix: s.prefix, batchSize, pollMs: 20, claimIdleMs: 500, log: { info: () => {}, warn: () => {} }, fieldsOf: () => personal
  })
  w.start()
  s.writers.push(w)
  return w
}

const ticket = (id: string) => ({ TicketId: id, Subject: 'digitalid', SubjectType: 'enrollment', SubjectIdentifier: 'ektp' })
const PRODUCT = 'digitalid/enrollment/ektp'
const personal = new Set(['NIK', 'Image'])

t.test('migrations apply once; a second run applies nothing', async (t) => {
  const db = await createTestDatabase()
  t.teardown(db.drop)
  t.same(await migrateHistory(db.url), ['1764374400000_ticket-history', '1764460800000_ticket-trace-id', '1764979200000_audit-chain', '1765065600000_personal-data-erasures', '1765152000000_no-fingerprints', '1765238400000_ticket-input'])
  t.same(await migrateHistory(db.url), [])
})

t.test('a ticket across a failed try and its record, read back from the streams by a writer', async (t) => {
  const s = await setup(t, 'hist-life')
  await s.records.claim('acme', 'T-1', 'fp1', PRODUCT, 'req-1', '4bf92f3577b34da6a3ce929d0e0e4736')
  await s.records.recordFailedTry('acme', 'T-1', { attempt: 1, error: 'upstream answered 503', startedAt: Date.now() - 5, worker: 'test:1' })
  const record = completedEnvelope(ticket('T-1'), { ResourceType: 'data', Resource: 'nik', ResourceId: '1', Data: { NIK: '3171015708450002', Name: 'Ann' } })
  await s.records.writeRecord('acme', 'T-1', record, { startedAt: Date.now(), tries: 2, traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' })
  await s.records.appendAudit({ actor: 'ops', address: '127.0.0.1', action: 'job.retry', target: 'job-1', clientId: 'acme', ticketId: 'T-1', before: { state: 'failed' }, after: { state: 'waiting' } })
  writer(s)
  await waitFor('the record in history', async () => (await s.history.latest('acme', 'T-1'))?.code === 'SUCCESS', 10_000)
  t.same((await s.history.latest('acme', 'T-1'))?.record, record, 'GET\'s envelope, stored whole')
  const detail = await s.history.detail('acme', 'T-1', (r) => r)
  t.match(detail, { ClientId: 'acme', TicketId: 'T-1', Product: PRODUCT, Code: 'SUCCESS', Attempts: 2, RequestId: 'req-1', TraceId: '4bf92f3577b34da6a3ce929d0e0e4736' })
  await waitFor('the audit entry', async () => ((await s.history.detail('acme', 'T-1', (r) => r))?.Timeline.length ?? 0) === 4, 10_000)
  const timeline = (await s.history.detail('acme', 'T-1', (r) => r))?.Timeline ?? []
  t.same(timeline.map((e) => e.Type), ['accepted', 'try-failed', 'record', 'job.retry'])
  t.match(timeline[1]?.Details, { attempt: '1', error: 'upstream answered 503' })
  t.match(timeline[2]?.Details, { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' }, 'the record event names the span that stored it (webhooks continue from it)')
  t.equal(await historyBacklog(s.redis, s.prefix), 0, 'everything acknowledged')
})

/** Events as the writer would hand them over, built from what the record store appended. */
async function streamEvents (s: Setup, clientId: string, ticketId: string): Promise<StreamEvent[]> {
  const group = ticketGroup(clientId, ticketId)
  const events = (await s.records.eventsOf(clientId, ticketId)).map((e) => ({ ...e, group }))
  await attachRecords(s.redis, s.prefix, events)
  return events
}

t.test('a batch stored twice, or in another order, leaves the same history', async (t) => {
  const s = await setup(t, 'hist-idem')
  await s.records.claim('acme', 'T-2', 'fp', PRODUCT)
  await s.records.recordFailedTry('acme', 'T-2', { attempt: 1, error: 'timeout', startedAt: Date.now() - 5, worker: 'test:1' })
  await s.records.writeRecord('acme', 'T-2', failedEnvelope(ticket('T-2'), 'PRODUCT_FAILED', 'gave up'), { startedAt: Date.now(), tries: 3 })
  const events = await streamEvents(s, 'acme', 'T-2')
  t.equal(events.length, 3)
  await s.history.writeEvents([...events].reverse())
  await s.history.writeEvents(events)
  await s.history.writeEvents([events[0] as StreamEvent])
  const counts = await s.pool.query('SELECT (SELECT count(*) FROM tickets)::int AS tickets, (SELECT count(*) FROM ticket_events)::int AS events')
  t.same(counts.rows[0], { tickets: 1, events: 3 })
  t.match(await s.history.search({ ClientId: 'acme' }), { rows: [{ TicketId: 'T-2', Code: 'PRODUCT_FAILED', Attempts: 3, Product: PRODUCT }] })
  // The operator's retry replaces PRODUCT_FAILED; the replacement wins whichever order the writers see them in.
  await s.records.writeRecord('acme', 'T-2', completedEnvelope(ticket('T-2'), { ResourceType: 'r', Resource: 'r', ResourceId: '1', Data: null }))
  const all = await streamEvents(s, 'acme', 'T-2')
  await s.history.writeEvents([all[3] as StreamEvent])
  await s.history.writeEvents(all)
  t.equal((await s.history.latest('acme', 'T-2'))?.code, 'SUCCESS')
})

t.test('a TicketId accepted again after expiry is a second row; GET reads the newest', async (t) => {
  const s = await setup(t, 'hist-again')
  await s.records.claim('acme', 'T-3', 'fp', PRODUCT)
  await s.records.writeRecord('acme', 'T-3', failedEnvelope(ticket('T-3'), 'PRODUCT_REJECTED', 'no'))
  const first = await streamEvents(s, 'acme', 'T-3')
  await s.redis.del((await s.redis.keys(`${s.prefix}:*ticket*`))[0] as string)
  await new Promise((resolve) => setTimeout(resolve, 5))
  await s.records.claim('acme', 'T-3', 'fp', PRODUCT)
  const second = (await streamEvents(s, 'acme', 'T-3')).slice(first.length)
  await s.history.writeEvents([...second, ...first])
  t.equal((await s.history.search({ TicketId: 'T-3' })).rows.length, 2)
  t.same(await s.history.latest('acme', 'T-3'), { product: PRODUCT, code: 'IN_PROCESS', record: undefined })
})

t.test('search: each filter, prefixes, time bounds, pages', async (t) => {
  const s = await setup(t, 'hist-search')
  const base = Date.parse('2026-01-01T00:00:00Z')
  const events: StreamEvent[] = []
  for (let i = 0; i < 25; i++) {
    const clientId = i % 2 === 0 ? 'acme' : 'globex'
    const ticketId = `${i < 10 ? 'ab' : 'cd'}_${String(i).padStart(3, '0')}`
    const at = base + i * 60_000
    events.push({ id: `${at}-0`, group: 0, type: 'accepted', clientId, ticketId, at, fields: { product: i % 3 === 0 ? 'a/b/c' : PRODUCT, fp: 'x', requestId: '' } })
    if (i % 5 === 0) {
      events.push({ id: `${at + 1}-0`, group: 0, type: 'record', clientId, ticketId, at: at + 1, fields: { acceptedAt: String(at), code: 'SUCCESS', tries: '1', record: JSON.stringify(completedEnvelope(ticket(ticketId), { ResourceType: 'r', Resource: 'r', ResourceId: '1', Data: null })) } })
    }
  }
  await s.history.writeEvents(events)
  const ids = async (q: Parameters<HistoryStore['search']>[0]): Promise<string[]> => (await s.history.search(q)).rows.map((r) => r.TicketId)
  t.same(await ids({ TicketId: 'cd_024' }), ['cd_024'])
  t.same(await ids({ TicketId: 'ab*', ClientId: 'globex' }), ['ab_009', 'ab_007', 'ab_005', 'ab_003', 'ab_001'], 'prefix with client, newest first')
  t.same(await ids({ TicketId: 'a_*' }), [], 'LIKE characters in a prefix are literal')
  t.same(await ids({ Code: 'SUCCESS' }), ['cd_020', 'cd_015', 'cd_010', 'ab_005', 'ab_000'])
  t.same(await ids({ Code: 'IN_PROCESS', Product: 'a/b/c', ClientId: 'acme' }), ['cd_024', 'cd_018', 'cd_012', 'ab_006'])
  t.same(await ids({ From: new Date(base + 20 * 60_000).toISOString(), To: new Date(base + 23 * 60_000).toISOString() }), ['cd_022', 'cd_021', 'cd_020'])
  const seen: string[] = []
  let cursor: string | undefined
  do {
    const page = await s.history.search({ Limit: 7, ...(cursor === undefined ? {} : { Cursor: cursor }) })
    t.ok(page.rows.length <= 7)
    seen.push(...page.rows.map((r) => r.TicketId))
    cursor = page.nextCursor ?? undefined
  } while (cursor !== undefined)
  t.equal(seen.length, 25, 'pages cover every ticket once')
  t.equal(new Set(seen).size, 25)
  await t.rejects(s.history.search({ Cursor: 'bm90LWEtY3Vyc29y' }), BadCursorError)
})

t.test('erasure: at once by ticket, and by age; the audit trail is append-only but for retention', async (t) => {
  const s = await setup(t, 'hist-erase')
  const record = completedEnvelope(ticket('T-5'), { ResourceType: 'r', Resource: 'r', ResourceId: '1', Data: { NIK: '3171015708450002', Name: 'Ann', Nested: { Image: 'data:...' } } })
  await s.records.claim('acme', 'T-5', 'fp', PRODUCT)
  await s.records.writeRecord('acme', 'T-5', record)
  await s.records.claim('acme', 'T-6', 'fp', PRODUCT)
  await s.records.writeRecord('acme', 'T-6', { ...record, TicketId: 'T-6' })
  await s.records.appendAudit({ actor: 'ops', address: '10.0.0.1', action: 'availability.set', target: PRODUCT, before: true, after: false })
  writer(s)
  await waitFor('both records', async () => (await s.history.latest('acme', 'T-6'))?.code === 'SUCCESS' && (await s.history.latest('acme', 'T-5'))?.code === 'SUCCESS', 10_000)

  t.equal(await s.history.erase('acme', 'T-5', () => personal), 1)
  t.same((await s.history.latest('acme', 'T-5'))?.record?.Data, { NIK: ERASED, Name: 'Ann', Nested: { Image: ERASED } })
  t.equal(await s.history.eraseOlderThan(30, () => personal), 0, 'T-6 finished just now: kept')
  await s.pool.query("UPDATE tickets SET finished_at = now() - interval '31 days' WHERE ticket_id = 'T-6'")
  t.equal(await s.history.eraseOlderThan(30, () => personal), 1)
  t.match((await s.history.detail('acme', 'T-6', (r) => r))?.PersonalDataErasedAt, /^\d{4}-/)

  // Defects #25.2 (a): an erasure asked before history has the record (its writer is behind)
  // sticks: the record is stored erased when it arrives, never in clear.
  t.equal(await s.history.erase('acme', 'T-7', () => personal), 0, 'nothing to erase yet')
  await s.records.claim('acme', 'T-7', 'fp', PRODUCT)
  await s.records.writeRecord('acme', 'T-7', { ...record, TicketId: 'T-7' })
  await waitFor('T-7 in history', async () => (await s.history.latest('acme', 'T-7'))?.code === 'SUCCESS', 10_000)
  t.same((await s.history.latest('acme', 'T-7'))?.record?.Data, { NIK: ERASED, Name: 'Ann', Nested: { Image: ERASED } }, 'stored erased')
  t.equal((await s.pool.query("SELECT count(*)::int AS n FROM tickets WHERE record::text LIKE '%3171015708450002%' AND ticket_id = 'T-7'")).rows[0].n, 0)

  await waitFor('the audit row', async () => (await s.history.audit({})).rows.length === 1, 10_000)
  t.match((await s.history.audit({ Action: 'availability.set' })).rows, [{ Actor: 'ops', Address: '10.0.0.1', Target: PRODUCT, Before: true, After: false }])
  await t.rejects(s.pool.query("UPDATE audit_log SET actor = 'someone-else'"), /append-only/)
  await t.rejects(s.pool.query('DELETE FROM audit_log'), /append-only/)
  t.equal(await s.history.deleteExpired(400, 730), 0, 'nothing old enough')
  await s.pool.query("UPDATE tickets SET accepted_at = now() - interval '401 days' WHERE ticket_id = 'T-6'")
  t.ok(await s.history.deleteExpired(400, 730) >= 1)
  t.same((await s.history.search({})).rows.map((r) => r.TicketId).sort(), ['T-5', 'T-7'], 'T-6 is gone, T-5 and T-7 stay')
})

t.test('the backlog counts what no writer has stored; a writer killed mid-batch leaves nothing missing or doubled', async (t) => {
  const s = await setup(t, 'hist-backlog')
  for (let i = 0; i < 40; i++) await s.records.claim('acme', `B-${i}`, 'fp', PRODUCT)
  // No writer has made the group yet: every event waits for history (defects #25.3: a missing
  // group counts as behind, so HISTORY_BACKLOG_MAX sees events nobody reads).
  t.equal(await historyBacklog(s.redis, s.prefix), 40)
  const first = writer(s, 16)
  await waitFor('some stored', async () => (await s.history.search({ Limit: 500 })).rows.length > 0, 10_000)
  await first.stop()
  for (let i = 0; i < 10; i++) await s.records.claim('acme', `D-${i}`, 'fp', PRODUCT)
  const stream = redisKeys(s.prefix).ticketEvents(ticketGroup('acme', 'D-0'))
  const streamBacklog = Number(await s.redis.xlen(stream))
  t.ok(await historyBacklog(s.redis, s.prefix) >= 10, 'the new tickets wait for a writer')
  // A batch read and never acknowledged: what a writer killed between its read and its commit leaves.
  const read = await s.redis.xreadgroup('GROUP', 'history', 'dead-writer', 'COUNT', 100, 'STREAMS', stream, '>') as unknown[] | null
  t.ok(read !== null && streamBacklog > 0, 'the dead writer holds entries')
  writer(s, 16)
  await waitFor('all 50 stored', async () => (await s.history.search({ Limit: 500 })).rows.length === 50 && await historyBacklog(s.redis, s.prefix) === 0, 15_000)
  const counts = await s.pool.query('SELECT count(*)::int AS n, count(DISTINCT event_id)::int AS d FROM ticket_events')
  t.same(counts.rows[0], { n: 50, d: 50 })
})

t.test('defects #25.3: after Redis lost its data the writer makes its groups again, says so, and stores what came since; a stream without the group counts as behind', async (t) => {
  const s = await setup(t, 'hist-lost')
  const warnings: string[] = []
  let recreated = 0
  const w = new HistoryWriter(s.redis, s.history, {
    prefix: s.prefix,
    batchSize: 100,
    pollMs: 20,
    claimIdleMs: 500,
    log: { info: () => {}, warn: (_o, msg) => { warnings.push(msg) } },
    onGroupsLost: () => { recreated++ }
  })
  w.start()
  s.writers.push(w)
  const done = async (id: string): Promise<void> => {
    await s.records.claim('acme', id, 'fp', PRODUCT)
    await s.records.writeRecord('acme', id, completedEnvelope(ticket(id), { ResourceType: 'data', Resource: 'x', ResourceId: '1', Data: {} }))
  }
  await done('L-1')
  await waitFor('L-1 in history', async () => (await s.history.latest('acme', 'L-1'))?.code === 'SUCCESS', 10_000)
  // What a Redis restart without persistence does to this prefix: every key gone, groups with them.
  await deleteKeys(s.prefix)
  await done('L-2')
  await waitFor('L-2 in history, written after the loss', async () => (await s.history.latest('acme', 'L-2'))?.code === 'SUCCESS', 10_000)
  t.ok(warnings.some((m) => /consumer groups are gone/.test(m)), 'said loudly')
  t.ok(recreated >= 1, 'and counted')

  await w.stop()
  await deleteKeys(s.prefix)
  await s.records.claim('acme', 'L-3', 'fp', PRODUCT)
  t.ok(await historyBacklog(s.redis, s.prefix) >= 1, 'events nobody reads count as the backlog (the intake\'s HISTORY_BACKLOG_MAX sees them)')
})

t.test('defects #25.7: the audit trail is a hash chain appended in one order by concurrent writers; TRUNCATE is refused; a change or a removal is found', async (t) => {
  const s = await setup(t, 'hist-chain')
  // Two writers at once, each storing audit events of many ticket groups.
  for (let i = 0; i < 60; i++) {
    await s.records.appendAudit({ actor: 'ops', address: '10.0.0.1', action: 'job.retry', target: `job-${i}`, clientId: 'acme', ticketId: `C-${i}`, before: { state: 'failed' }, after: { state: 'waiting' } })
  }
  writer(s, 8)
  writer(s, 8)
  await waitFor('every audit row', async () => (await s.pool.query('SELECT count(*)::int AS n FROM audit_log')).rows[0].n === 60, 15_000)
  t.match(await s.history.verifyAudit(), { entries: 60, brokenAt: null, head: /^[0-9a-f]{64}$/ }, 'intact')
  const seqs = (await s.pool.query<{ seq: string }>('SELECT seq FROM audit_log ORDER BY seq')).rows.map((r) => Number(r.seq))
  t.same(seqs, Array.from({ length: 60 }, (_, i) => i + 1), 'one order, no gaps')

  await t.rejects(s.pool.query('TRUNCATE audit_log'), /append-only \(TRUNCATE refused\)/, 'TRUNCATE is refused, also for a superuser')
  await t.rejects(s.pool.query('TRUNCATE audit_chain_anchor'), /TRUNCATE refused/)

  // Retention takes the oldest rows and anchors the chain: it still holds.
  await s.pool.query("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only; UPDATE audit_log SET at = now() - interval '800 days' WHERE seq <= 10; ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only")
  t.equal(await s.history.deleteExpired(400, 730), 10, 'retention deletes the ten oldest')
  t.match(await s.history.verifyAudit(), { entries: 50, brokenAt: null }, 'and the chain holds from its anchor')

  // Someone sets retention's switch and deletes a row in the middle: found.
  await s.pool.query("BEGIN; SELECT set_config('request_out.audit_retention', 'on', true); DELETE FROM audit_log WHERE seq = 30; COMMIT")
  t.match(await s.history.verifyAudit(), { entries: 19, brokenAt: { seq: '31', why: 'unlinked' } }, 'a removal breaks the link')
  // Someone with the table's owner rights disables the trigger and changes a row: found.
  await s.pool.query("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only; UPDATE audit_log SET actor = 'nobody' WHERE seq = 20; ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only")
  t.match(await s.history.verifyAudit(), { brokenAt: { seq: '20', why: 'changed' } }, 'a change breaks the row\'s hash')
})

t.test('#29: a PRODUCT_FAILED ticket\'s input is kept from its job (never in an event), erased with its record, dropped once it succeeds; the redrive selection reads it', async (t) => {
  const s = await setup(t, 'hist-input')
  const keys = redisKeys(s.prefix)
  // What BullMQ's job hash holds of a ticket (`data`), as the intake's add wrote it.
  const failWithJob = async (ticketId: string, data?: Record<string, unknown>): Promise<number> => {
    const claim = await s.records.claim('acme', ticketId, 'fp', PRODUCT)
    const acceptedAt = claim.acceptedAt
    await s.redis.hset(keys.job(PRODUCT, ticketKey('acme', ticketId)), 'data', JSON.stringify({ ...ticket(ticketId), ...(data === undefined ? {} : { Data: data }), ClientId: 'acme', RequestId: 'r', AcceptedAt: acceptedAt, ClaimedAt: acceptedAt }))
    await s.records.writeRecord('acme', ticketId, failedEnvelope(ticket(ticketId), 'PRODUCT_FAILED', 'gave up'), { startedAt: Date.now(), tries: 1 })
    return acceptedAt
  }
  const accepted = await failWithJob('I-1', { NIK: '3171015708450002', Note: 'kept' })
  await failWithJob('I-2')
  await failWithJob('I-3', { NIK: '3171015708450003' })
  await s.records.claim('acme', 'I-4', 'fp', PRODUCT)
  await s.records.writeRecord('acme', 'I-4', failedEnvelope(ticket('I-4'), 'PRODUCT_REJECTED', 'no'))
  writer(s)
  await waitFor('four records in history', async () => (await s.history.search({ ClientId: 'acme' })).rows.filter((r) => r.Code !== 'IN_PROCESS').length === 4, 10_000)
  const input = async (ticketId: string): Promise<unknown> => (await s.pool.query('SELECT input FROM tickets WHERE ticket_id = $1', [ticketId])).rows[0]?.input
  t.same(await input('I-1'), { Data: { NIK: '3171015708450002', Note: 'kept' } }, 'the job\'s Data, kept on the ticket row')
  t.same(await input('I-2'), {}, 'a ticket without Data keeps an empty input')
  t.equal(await input('I-4'), null, 'a rejection keeps none: it is never sent again')
  t.equal((await s.pool.query("SELECT count(*)::int AS n FROM ticket_events WHERE details::text LIKE '%3171015708450002%'")).rows[0].n, 0, 'no event holds it')

  const select = async () => (await s.history.failedTickets({ products: [PRODUCT], since: 0, until: Infinity }, undefined, 10)).tickets
  t.match(await select(), [
    { ticketId: 'I-1', acceptedAt: accepted, input: { Data: { Note: 'kept' } }, erased: false, newer: false },
    { ticketId: 'I-2', input: {}, erased: false },
    { ticketId: 'I-3', erased: false }
  ], 'only PRODUCT_FAILED, oldest first, with the input')
  t.equal(await s.history.erase('acme', 'I-3', () => personal), 1)
  t.same(await input('I-3'), { Data: { NIK: ERASED } }, 'its personal fields erased like the record\'s')
  t.match((await select())[2], { ticketId: 'I-3', erased: true }, 'and the selection says so')
  const page = await s.history.failedTickets({ products: [PRODUCT], clientId: 'acme', since: 0, until: Infinity }, undefined, 2)
  t.same((await s.history.failedTickets({ products: [PRODUCT], since: 0, until: Infinity }, page.next, 2)).tickets.map((f) => f.ticketId), ['I-3'], 'pages follow on')

  // An operator's retry that succeeds: the input goes.
  await s.records.writeRecord('acme', 'I-2', completedEnvelope(ticket('I-2'), { ResourceType: 'r', Resource: 'r', ResourceId: '1', Data: null }))
  await waitFor('I-2 succeeded in history', async () => (await s.history.latest('acme', 'I-2'))?.code === 'SUCCESS', 10_000)
  t.equal(await input('I-2'), null)
})
