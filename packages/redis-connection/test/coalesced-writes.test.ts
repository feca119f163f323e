import t, { type Test } from 'tap'
import { randomUUID } from 'node:crypto'
import { setImmediate as nextTurn } from 'node:timers/promises'
import { Redis } from 'ioredis'
import { CoalescingRedis } from '../src/coalesced-writes.js'
import { closeRedis, createRedis } from '../src/connections.js'

const URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'

/** Counts the chunks of writes the client's socket hands to the kernel (one per `_write`, one per `_writev`). */
function countHandOffs (client: Redis): () => number {
  const socket = client.stream as unknown as { _write: (...a: unknown[]) => void, _writev: (...a: unknown[]) => void }
  let handed = 0
  for (const name of ['_write', '_writev'] as const) {
    const original = socket[name].bind(socket)
    socket[name] = (...args: unknown[]) => { handed++; original(...args) }
  }
  return () => handed
}

async function connected<T extends Redis> (t: Test, client: T): Promise<T> {
  t.teardown(async () => closeRedis(client))
  await client.ping()
  return client
}

t.test('the commands of one turn leave in one write and are each answered as if sent alone', async (t) => {
  const client = await connected(t, new CoalescingRedis(URL, { maxRetriesPerRequest: 1 }))
  const key = `t:coalesce:${randomUUID()}`
  const handed = countHandOffs(client)

  const replies = Array.from({ length: 100 }, async (_, i) => client.rpush(key, String(i)))
  const wrong = client.call('HGET', key, 'x')
  t.equal(client.stream.writableCorked, 1, 'the socket is corked until the turn ends')
  t.same(await Promise.all(replies), Array.from({ length: 100 }, (_, i) => i + 1), 'each command has its own reply, in order')
  await t.rejects(wrong, /WRONGTYPE/, 'an error answers its own command only')
  t.equal(handed(), 1, 'the 101 commands were handed to the socket at once')
  t.same(await client.lrange(key, 0, 2), ['0', '1', '2'])

  // A command sent from a reply's callback starts a new turn's write.
  const before = handed()
  await nextTurn()
  await client.llen(key)
  t.equal(handed() - before, 1)
  t.equal(client.stream.writableCorked, 0, 'nothing stays corked')
  await client.del(key)
})

t.test('a plain client hands every command to the socket on its own (so the count above can fail)', async (t) => {
  const client = await connected(t, new Redis(URL, { maxRetriesPerRequest: 1 }))
  const handed = countHandOffs(client)
  await Promise.all(Array.from({ length: 100 }, async () => client.ping()))
  t.ok(handed() > 10, `${handed()} hand-offs`)
})

t.test('after a reconnect the new socket is corked as the old one was', async (t) => {
  const client = await connected(t, new CoalescingRedis(URL, { maxRetriesPerRequest: 1 }))
  const first = client.stream
  client.disconnect(true)
  await new Promise((resolve) => client.once('ready', resolve))
  t.not(client.stream, first, 'a new socket')
  const handed = countHandOffs(client)
  t.same(await Promise.all([client.ping(), client.echo('a'), client.echo('b')]), ['PONG', 'a', 'b'])
  t.equal(handed(), 1)
})

t.test('producer and worker connections coalesce; a subscriber does not', async (t) => {
  const clients = (['producer', 'worker', 'subscriber'] as const).map((role) => createRedis({ url: URL }, role, 'coalesce-test'))
  t.teardown(async () => { await Promise.all(clients.map(closeRedis)) })
  t.same(clients.map((c) => c instanceof CoalescingRedis), [true, true, false])
})
