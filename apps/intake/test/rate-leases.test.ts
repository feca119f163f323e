import t from 'tap'
import { Redis } from 'ioredis'
import { startPrivateRedis, uniquePrefix } from '@request-out/test-support'
import { getTicket, startIntake, tokenFor } from './helpers.js'

t.test('the per-client rate limit over two intakes: exact to within a lease, and most requests cost no Redis call', async (t) => {
  const redis = await startPrivateRedis()
  t.teardown(redis.destroy)
  const prefix = uniquePrefix('leases')
  const env = { REDIS_URL: redis.url, RATE_LIMIT_MAX: '100', RATE_LIMIT_WINDOW_MS: '3600000' }
  const one = await startIntake(t, env, prefix)
  const two = await startIntake(t, env, prefix)
  const probe = new Redis(redis.url)
  t.teardown(() => probe.disconnect())
  const leases = async (): Promise<number> => Number(/cmdstat_incrby:calls=(\d+)/.exec(await probe.info('commandstats'))?.[1] ?? 0)
  const before = await leases()
  const token = tokenFor('busy-client')
  const codes: number[] = []
  for (let i = 0; i < 150; i++) codes.push((await getTicket((i % 2 === 0 ? one : two).app, token, `t-${i}`)).statusCode)
  const passed = codes.filter((c) => c !== 429).length
  // Lease of 5 (a twentieth of 100): at most one unspent lease per intake is lost to the other.
  t.ok(passed <= 100 && passed >= 90, `${passed} of 150 passed: never more than the limit, at most a lease per intake fewer`)
  t.equal(codes.at(-1), 429)
  const used = await leases() - before
  t.ok(used <= 30, `${used} leases for 150 requests: most requests made no Redis call`)
  const limited = await getTicket(one.app, token, 'again')
  t.match(limited.headers.ratelimit, /^"requests";r=0;t=\d+$/, 'the RateLimit fields say none left')
  t.ok(Number(limited.headers['retry-after']) > 0)
  t.equal((await getTicket(two.app, tokenFor('quiet'), 'x')).statusCode, 404, 'another client has its own window')
})
