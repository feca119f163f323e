import t from 'tap'
import { redisKeys } from '@request-out/redis-keys'
import { uniquePrefix, waitFor, writeCatalog } from '@request-out/test-support'
import type { Principal } from '../src/plugins/auth.js'
import type { TicketAnswer } from '../src/tickets/answer.js'
import { startIntake } from './helpers.js'

// submit() driven without HTTP: every refusal path answers (never throws), and none of them keeps
// a place in the queue, a fair-share turn or a unit of quota that a new ticket did not take.
const PRODUCT = { Subject: 'adm', SubjectType: 'fair', SubjectIdentifier: 'one' }
const KEY = 'adm/fair/one'
const QUOTA = { tickets: 3, perSeconds: 3600 }

t.test('submit(): each refusal path answers its problem or envelope and gives back every reservation', async (t) => {
  const catalog = writeCatalog([{
    ...PRODUCT,
    Name: 'admission',
    Kind: 'sandbox',
    Concurrency: 1,
    Fairness: 'client',
    InputSchema: { type: 'object', additionalProperties: false, properties: { Note: { type: 'string', maxLength: 5 } } }
  }])
  const prefix = uniquePrefix('admission')
  const keys = redisKeys(prefix)
  const { app } = await startIntake(t, { PRODUCTS_FILE: catalog, MAX_QUEUE_DEPTH: '2' }, prefix)
  const client: Principal = { clientId: 'adm-client', role: 'client', products: undefined, quota: QUOTA }
  const context = { requestId: 'req', waitSeconds: 0, log: app.log }
  const submit = async (ticketId: string, extra: Record<string, unknown> = {}, who = client): Promise<TicketAnswer> =>
    await app.ticketIntake.submit(who, { ...PRODUCT, TicketId: ticketId, ...extra }, context)
  const kindAndCode = (a: TicketAnswer): string => a.kind === 'problem' ? `problem ${a.problem.code}` : `envelope ${a.envelope.StatusCode} ${a.envelope.Code ?? ''}`.trim()

  const turn = async (): Promise<number> => Number(await app.redis.producer.hget(keys.fairShare(KEY), client.clientId) ?? 0)
  const quotaUsed = async (): Promise<number> => Number(await app.redis.producer.get(keys.quota(client.clientId, QUOTA.perSeconds, Math.floor(Date.now() / (QUOTA.perSeconds * 1000)))) ?? 0)
  /** Nothing held but what the accepted tickets took. */
  const holds = async (what: string, accepted: number): Promise<void> => {
    t.equal(app.ticketQueues.placesHeld(KEY), 0, `${what}: no place in the queue held`)
    await waitFor(`${what}: turns given back`, async () => await turn() === accepted, 5000)
    t.equal(await quotaUsed(), accepted, `${what}: quota counts the accepted tickets only`)
    // The queue's depth as Redis has it (the guard counts this intake's adds, repeated ones too, until it reads again).
    await app.ticketQueues.refreshCounts()
  }

  t.equal(kindAndCode(await submit('a-1')), 'envelope 202', 'a new ticket is accepted')
  await holds('accepted', 1)
  t.equal(kindAndCode(await submit('a-1')), 'envelope 202', 'a re-POST answers its state')
  await holds('re-POST', 1)
  t.equal(kindAndCode(await submit('a-1', { Data: { Note: 'other' } })), 'envelope 409 TICKET_CONFLICT')
  await holds('conflict', 1)
  t.equal(kindAndCode(await submit('bad', { Data: { Note: 'far too long' } })), 'problem VALIDATION_ERROR', 'the input schema')
  let deep: Record<string, unknown> = {}
  for (let i = 0; i < 40; i++) deep = { d: deep }
  t.equal(kindAndCode(await submit('deep', { Data: deep })), 'problem VALIDATION_ERROR', 'too deep')
  t.equal(kindAndCode(await app.ticketIntake.submit(client, { Subject: 'no', SubjectType: 'such', SubjectIdentifier: 'product', TicketId: 'x' }, context)),
    'envelope 404 PRODUCT_NOT_AVAILABLE', 'an unknown product: the seed\'s envelope')
  t.equal(kindAndCode(await submit('limited', {}, { ...client, products: new Set(['other/product/key']) })), 'envelope 404 PRODUCT_NOT_AVAILABLE', 'a product the client may not use')
  await holds('refused before admission', 1)

  t.equal(kindAndCode(await submit('a-2')), 'envelope 202')
  await holds('second accepted', 2)
  t.equal(kindAndCode(await submit('a-3')), 'problem UNAVAILABLE', 'the queue is full (MAX_QUEUE_DEPTH 2)')
  await holds('queue full', 2)

  const full = { ...client, quota: { ...QUOTA, tickets: 2 } }
  const overQuota = await submit('a-4', {}, full)
  t.equal(kindAndCode(overQuota), 'problem QUOTA_EXCEEDED')
  t.match(overQuota, { quota: { limit: 2, remaining: 0, allowed: false } })
  await holds('over quota', 2)
  t.equal(kindAndCode(await submit('a-1', {}, full)), 'envelope 202', 'over quota, a re-POST still answers its state')
  await holds('re-POST over quota', 2)

  await app.availability.set(KEY, false, 'maintenance', 'ops')
  await waitFor('the switch seen', async () => !app.availability.isAvailable(KEY), 5000)
  const off = await submit('a-5')
  t.equal(kindAndCode(off), 'envelope 404 PRODUCT_NOT_AVAILABLE')
  t.same(off.headers, { 'product-unavailable-reason': 'maintenance' })
  await holds('switched off', 2)
})
