import t from 'tap'
import { randomUUID } from 'node:crypto'
import { createServer, type Socket } from 'node:net'
import { Redis } from 'ioredis'
import { CoalescingRedis } from '../src/coalesced-writes.js'
import { closeRedis } from '../src/connections.js'

const URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'

/** Keeps this process from reading its sockets for `ms`, as a burst of requests does. */
function busyFor (ms: number): void {
  const until = Date.now() + ms
  while (Date.now() < until) { /* busy */ }
}

/** Sends a GET, then holds the loop for 300 ms once the command has left (after the turn's uncork). */
async function getWhileBusy (client: Redis, key: string): Promise<string | null> {
  const reply = client.get(key)
  setImmediate(() => busyFor(300))
  return await reply
}

t.test('a reply that arrived while the process was busy is not a timeout', async (t) => {
  const client = new CoalescingRedis(URL, { maxRetriesPerRequest: 1, commandTimeout: 100 })
  t.teardown(async () => closeRedis(client))
  const key = `t:timeout:${randomUUID()}`
  await client.set(key, 'kept', 'EX', 60)
  t.equal(await getWhileBusy(client, key), 'kept', 'answered, though the loop read it 200 ms past the timeout')
  t.equal(await client.get(key), 'kept', 'and the client goes on')
})

t.test("a command's time starts when it is written, not when a long turn queued it", async (t) => {
  const client = new CoalescingRedis(URL, { maxRetriesPerRequest: 1, commandTimeout: 100 })
  t.teardown(async () => closeRedis(client))
  const key = `t:timeout:${randomUUID()}`
  await client.set(key, 'kept', 'EX', 60)
  // Thousands of requests read in one turn: the commands wait (corked) for the turn's end. Sent
  // from the check phase, they leave in the next turn's, after its timers have run.
  const replies = await new Promise<Array<Promise<string | null>>>((resolve) => setImmediate(() => {
    const sent = Array.from({ length: 50 }, async () => client.get(key))
    busyFor(300)
    resolve(sent)
  }))
  t.same(new Set(await Promise.all(replies)), new Set(['kept']), 'every command answered')
})

t.test("ioredis's own commandTimeout fails the same command (so the test above can fail)", async (t) => {
  const client = new Redis(URL, { maxRetriesPerRequest: 1, commandTimeout: 100 })
  t.teardown(async () => closeRedis(client))
  await client.ping()
  await t.rejects(getWhileBusy(client, `t:timeout:${randomUUID()}`), /Command timed out/)
})

t.test('a server that never answers still times the command out', async (t) => {
  // A real socket that swallows every command: Redis hung (SIGSTOP looks the same to a client).
  const sockets = new Set<Socket>()
  const silent = createServer((socket) => { sockets.add(socket); socket.resume() })
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
  t.teardown(async () => {
    for (const s of sockets) s.destroy()
    await new Promise((resolve) => silent.close(resolve))
  })
  const port = (silent.address() as { port: number }).port
  const client = new CoalescingRedis(`redis://127.0.0.1:${port}`, { maxRetriesPerRequest: 1, commandTimeout: 200, enableReadyCheck: false, retryStrategy: () => null })
  t.teardown(() => client.disconnect())
  await new Promise((resolve) => client.once('ready', resolve))
  const started = Date.now()
  const failedAfter = async (reply: Promise<unknown>): Promise<number> => await reply.then(() => -1, (err: Error) => {
    t.match(err.message, /Command timed out/)
    return Date.now() - started
  })
  const first = failedAfter(client.get('k'))
  await new Promise((resolve) => setTimeout(resolve, 150))
  const second = failedAfter(client.get('k'))
  const [a, b] = [await first, await second]
  t.ok(a >= 190 && a < 2000, `the first rejected after ${a} ms (timeout 200)`)
  t.ok(b >= 340 && b < 2000, `the second, written 150 ms later, after ${b} ms: each command has its own time`)
})
