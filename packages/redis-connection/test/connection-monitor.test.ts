import t, { type Test } from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { CoalescingRedis } from '../src/coalesced-writes.js'
import { closeRedis } from '../src/connections.js'
import { monitorConnection } from '../src/connection-monitor.js'

const URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const timedOut = new Error('Command timed out')

async function monitored (t: Test) {
  const client = new CoalescingRedis(URL, { maxRetriesPerRequest: 1 })
  const lines: Array<{ level: string, msg: string }> = []
  const log = { warn: (_o: object, msg: string) => lines.push({ level: 'warn', msg }), info: (_o: object, msg: string) => lines.push({ level: 'info', msg }) }
  const monitor = monitorConnection(client, log, { name: 'producer', probeTimeoutMs: 400, warnPersistence: false })
  t.teardown(async () => {
    monitor.close()
    await closeRedis(client)
  })
  await client.ping()
  return { client, monitor, lines }
}

t.test('a command timed out while replies keep arriving fails its own request, not the connection', async (t) => {
  const { client, monitor, lines } = await monitored(t)
  await client.ping()
  monitor.commandFailed(timedOut)
  t.ok(monitor.usable(), 'still usable: the connection read a reply a moment ago')
  t.notOk(monitor.inOutage())
  t.same(lines.filter((l) => /unreachable/.test(l.msg)), [], 'no outage told')
})

t.test('a command timed out on a connection that has read nothing for half the timeout is a hang (so the test above can fail)', async (t) => {
  const { monitor, lines } = await monitored(t)
  await sleep(300)
  monitor.commandFailed(timedOut)
  t.notOk(monitor.usable(), 'treated as down')
  t.equal(lines.filter((l) => /redis unreachable/.test(l.msg)).length, 1, 'one outage line')
  // Redis is fine: the probe's PING answers and the connection is used again.
  for (let i = 0; i < 40 && !monitor.usable(); i++) await sleep(50)
  t.ok(monitor.usable(), 'usable again once a PING answered')
  t.ok(lines.some((l) => /redis reachable again/.test(l.msg)))
})
