import t from 'tap'
import { readFileSync } from 'node:fs'
import { KEY_FAMILIES, TICKET_GROUPS, allTicketEvents, parseTicketKey, redisKeys, ticketGroup, ticketKey } from '../src/index.js'

const WORKSPACE_ROOT = new URL('../../..', import.meta.url).pathname
const keys = redisKeys('ro')
type Family = keyof typeof KEY_FAMILIES

/** A family's key with placeholder arguments ("a" for each), as a text. */
function sample (family: Family): string {
  const member: unknown = keys[family]
  const value: unknown = typeof member === 'function' ? (member as (...args: string[]) => unknown)(...Array<string>(member.length).fill('a')) : member
  return typeof value === 'string' ? value : `${(value as { prefix: string, name: string }).prefix}:${(value as { name: string }).name}:*`
}

/** `ro:{tg<n>}:ticket:<id>` → a regular expression where each `<…>` is one segment. */
const patternOf = (family: string): RegExp =>
  new RegExp(`^${family.split(/<[^>]+>/).map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('[^:]+')}$`)

t.test('every family the key module produces has its pattern, and produces keys of that pattern', async (t) => {
  const families = Object.keys(keys).filter((k) => k !== 'all')
  t.same(families.sort(), Object.keys(KEY_FAMILIES).sort(), 'one pattern per family, none left over')
  for (const family of Object.keys(KEY_FAMILIES) as Family[]) {
    t.match(sample(family), patternOf(KEY_FAMILIES[family]), `${family}: ${sample(family)}`)
  }
  t.equal(keys.all, 'ro:*')
  t.ok(Object.values(KEY_FAMILIES).every((p) => p.startsWith('ro:')), 'every key starts with QUEUE_PREFIX: one SCAN pattern finds them all')
})

t.test('docs/architecture.md\'s Redis table names every family', async (t) => {
  const doc = readFileSync(`${WORKSPACE_ROOT}/docs/architecture.md`, 'utf8')
  const table = doc.slice(doc.indexOf('## What Redis holds'), doc.indexOf('## What PostgreSQL holds'))
  for (const [family, pattern] of Object.entries(KEY_FAMILIES)) t.match(table, `\`${pattern}\``, `${family}: ${pattern}`)
})

t.test('what one script touches shares a cluster slot', async (t) => {
  const slotTag = (key: string): string | undefined => /\{([^}]+)\}/.exec(key)?.[1]
  const group = ticketGroup('client', 'T-1')
  t.equal(slotTag(keys.ticket('client', 'T-1')), slotTag(keys.ticketEvents(group)), 'a ticket and its group\'s stream')
  t.equal(slotTag(keys.fairShare('a/b/c')), slotTag(keys.productQueue('a/b/c').prefix), 'fair sharing and its queue')
  t.same(keys.productQueue('a/b/c'), { name: 'a/b/c', prefix: 'ro:{a/b/c}' }, 'a product queue lives in its own cluster slot')
  t.equal(slotTag(keys.prioritized('a/b/c')), 'a/b/c')
  t.equal(slotTag(keys.clientRunning('a/b/c', 'client')), 'a/b/c')
  t.equal(slotTag(keys.loginPair(1, '10.0.0.1', 'u')), slotTag(keys.loginAddress(1, '10.0.0.1')))
  t.equal(allTicketEvents(keys).length, TICKET_GROUPS)
  t.equal(new Set(allTicketEvents(keys).map(slotTag)).size, TICKET_GROUPS, 'the groups spread over slots')
  t.equal(redisKeys('other').ticket('c', 't').startsWith('other:'), true, 'the prefix comes from QUEUE_PREFIX')
})

t.test('ticket ids are safe BullMQ job ids and injective; groups are stable', async (t) => {
  const ids = [ticketKey('a', 'b.c'), ticketKey('a.b', 'c'), ticketKey('12', '34'), ticketKey('', 'x')]
  t.equal(new Set(ids).size, ids.length, 'distinct')
  for (const id of ids) {
    t.notMatch(id, /:/, `${id} has no ":"`)
    t.notMatch(id, /^\d+$/, `${id} is not all digits`)
  }
  t.same(parseTicketKey(ticketKey('client:x', 'a.b.c')), { clientId: 'client:x', ticketId: 'a.b.c' })
  t.equal(parseTicketKey('nodot'), undefined)
  // Fixed for a deployment: a change would move every stored ticket out of reach.
  t.equal(ticketGroup('client-a', 'T-1'), ticketGroup('client-a', 'T-1'))
  t.ok(ticketGroup('client-a', 'T-1') >= 0 && ticketGroup('client-a', 'T-1') < TICKET_GROUPS)
})
