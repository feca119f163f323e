import t from 'tap'
import { hasRedisServer, startPrivateRedis, waitFor } from '@request-out/test-support'
import { SEED_TICKET, getTicket, postTicket, startIntake, tokenFor } from './helpers.js'

t.test('Redis stopped under a running intake: 503 within a second, recovery without restart', { skip: hasRedisServer() ? false : 'redis-server is not installed' }, async (t) => {
  const redis = await startPrivateRedis()
  t.teardown(async () => redis.destroy())
  const { app } = await startIntake(t, { REDIS_URL: redis.url })
  const token = tokenFor('client-a')
  t.equal((await postTicket(app, token, SEED_TICKET)).statusCode, 202, 'works while Redis is up')

  await redis.stop()
  await waitFor('the intake to notice', () => !app.redis.isReady(), 5000)
  for (const [name, call] of [
    ['POST', async () => postTicket(app, token, { ...SEED_TICKET, TicketId: 'during-outage' })],
    ['GET', async () => getTicket(app, token, SEED_TICKET.TicketId)],
    ['GET with Prefer: wait', async () => getTicket(app, token, SEED_TICKET.TicketId, { prefer: 'wait=5' })]
  ] as const) {
    const started = Date.now()
    const res = await call()
    const took = Date.now() - started
    t.equal(res.statusCode, 503, `${name}: 503`)
    t.equal(res.headers['retry-after'], '1', `${name}: Retry-After`)
    t.match(res.json(), { Code: 'UNAVAILABLE', Status: 'failed' })
    t.ok(took < 1000, `${name}: answered in ${took} ms`)
  }
  const ready = await app.inject({ method: 'GET', url: '/health/ready' })
  t.equal(ready.statusCode, 503, 'not ready')
  t.equal((await app.inject({ method: 'GET', url: '/health/live' })).statusCode, 200, 'still live')

  // Redis had no persistence: the earlier ticket is gone with it, but the intake comes back by itself.
  await redis.restart()
  await waitFor('the intake to reconnect', () => app.redis.isReady(), 10_000)
  t.equal((await postTicket(app, token, { ...SEED_TICKET, TicketId: 'after-outage' })).statusCode, 202, 'accepts again')
  // The notification subscriber reconnects on its own schedule, a moment after the producer.
  await waitFor('ready again', async () => (await app.inject({ method: 'GET', url: '/health/ready' })).statusCode === 200, 10_000)
  t.pass('ready again')
})

t.test('an intake started while Redis is down answers 503 and becomes ready when Redis comes', { skip: hasRedisServer() ? false : 'redis-server is not installed' }, async (t) => {
  const redis = await startPrivateRedis()
  t.teardown(async () => redis.destroy())
  await redis.stop()
  const { buildApp } = await import('../src/app.js')
  const { loadIntakeConfig } = await import('../src/config.js')
  const app = await buildApp(loadIntakeConfig({ REDIS_URL: redis.url, LOG_LEVEL: 'silent' }), { logger: false })
  t.teardown(async () => app.close())
  await app.ready()
  const started = Date.now()
  const res = await postTicket(app, tokenFor('demo-client'), SEED_TICKET)
  t.equal(res.statusCode, 503)
  t.ok(Date.now() - started < 1000, 'promptly')
  await redis.restart()
  await waitFor('the intake to connect and read the revocations', () => app.redis.isReady() && app.revocations.loaded, 10_000)
  t.equal((await postTicket(app, tokenFor('demo-client'), SEED_TICKET)).statusCode, 202)
})
