import { test } from 'tap'
import { freePort, locateRedis, pingRedis, startPrivateRedis } from '../src/index.js'

test('a private redis-server answers, stops, restarts on its port and is removed', async (t) => {
  const redis = await startPrivateRedis()
  t.teardown(redis.destroy)
  t.equal(await pingRedis('127.0.0.1', redis.port), true)
  await redis.stop()
  t.equal(await pingRedis('127.0.0.1', redis.port, 300), false, 'stopped')
  await redis.restart()
  t.equal(await pingRedis('127.0.0.1', redis.port), true, 'restarted on the same port')
  redis.pause()
  t.equal(await pingRedis('127.0.0.1', redis.port, 300), false, 'a paused server does not answer')
  redis.resume()
  t.equal(await pingRedis('127.0.0.1', redis.port), true)
})

test('pingRedis answers false where nothing listens', async (t) => {
  t.equal(await pingRedis('127.0.0.1', await freePort(), 300), false)
})

test('locateRedis takes REDIS_URL as given and stops nothing', async (t) => {
  const before = process.env.REDIS_URL
  t.teardown(() => { if (before === undefined) delete process.env.REDIS_URL; else process.env.REDIS_URL = before })
  process.env.REDIS_URL = 'redis://example.invalid:6390'
  const located = await locateRedis()
  t.same({ url: located.url, source: located.source }, { url: 'redis://example.invalid:6390', source: 'REDIS_URL' })
  await located.stop()
})
