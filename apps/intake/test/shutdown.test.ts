import t from 'tap'
import { Queue } from 'bullmq'
import { Redis } from 'ioredis'
import { TEST_REDIS_URL, deleteKeys, freePort, spawnApp, uniquePrefix, waitFor } from '@request-out/test-support'
import { SANDBOX, SEED_TICKET, tokenFor } from './helpers.js'
import { redisKeys, ticketKey } from '@request-out/redis-keys'

t.test('SIGTERM on a busy intake: in-flight requests finish, every 202 has its job, exit 0', async (t) => {
  const prefix = uniquePrefix('shutdown')
  const port = await freePort()
  const intake = spawnApp('intake', { REDIS_URL: TEST_REDIS_URL, QUEUE_PREFIX: prefix, PORT: String(port), LOG_LEVEL: 'warn' })
  const redis = new Redis(TEST_REDIS_URL)
  const { name, prefix: qp } = redisKeys(prefix).productQueue(SANDBOX)
  const queue = new Queue(name, { connection: redis, prefix: qp })
  t.teardown(async () => {
    await intake.stop('SIGKILL')
    await queue.close()
    redis.disconnect()
    await deleteKeys(prefix)
  })
  const base = `http://127.0.0.1:${port}`
  await waitFor('the intake', async () => (await fetch(`${base}/health/ready`)).ok, 20_000, 100)

  const token = tokenFor('demo-client')
  const accepted: string[] = []
  const refused: number[] = []
  let sent = 0
  // Clients post until this moment, set once SIGTERM is sent.
  let stopAt = Number.POSITIVE_INFINITY
  // Eight clients post tickets back to back; SIGTERM arrives in the middle of it.
  const client = async (): Promise<void> => {
    while (Date.now() < stopAt) {
      const id = `busy-${sent++}`
      try {
        const res = await fetch(`${base}/v1/request-out`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ ...SEED_TICKET, TicketId: id })
        })
        if (res.status === 202) accepted.push(id)
        else refused.push(res.status)
      } catch {
        refused.push(0) // connection refused or reset: the client knows it was not accepted
      }
    }
  }
  const clients = Array.from({ length: 8 }, async () => client())
  await waitFor('some tickets accepted', () => accepted.length >= 100, 20_000, 10).catch((err: Error) => {
    const answers = refused.reduce<Record<number, number>>((n, s) => ({ ...n, [s]: (n[s] ?? 0) + 1 }), {})
    throw new Error(`${err.message}: ${accepted.length} accepted, refused ${JSON.stringify(answers)}\n${intake.output().slice(-2000)}`)
  })
  const exit = intake.stop('SIGTERM')
  stopAt = Date.now() + 1500
  await Promise.all(clients)
  t.equal(await exit, 0, 'the intake exits 0')
  t.ok(accepted.length >= 100, `${accepted.length} accepted, ${refused.length} refused during the stop`)
  t.ok(refused.every((s) => s === 0 || s === 503), 'refusals are 503 or a closed connection, never a 500')
  let missing = 0
  for (const id of accepted) if ((await queue.getJob(ticketKey('demo-client', id))) === undefined) missing++
  t.equal(missing, 0, 'every ticket answered 202 has its job in Redis')
})
