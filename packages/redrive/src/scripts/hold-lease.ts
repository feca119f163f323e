import { redisScript } from '@request-out/redis-connection'

/**
 * Takes a lease for `holder`, or renews it when the holder has it already; a lease whose holder
 * stopped renewing lapses by itself and the next asker takes it.
 *
 * KEYS: lease (string).
 * ARGV: holder, ms.
 * Reply: 1 held, 0 another holds it.
 */
export const holdLeaseScript = redisScript({
  name: 'roHoldLease',
  keys: ['lease'],
  args: ['holder', 'ms'],
  lua: `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
return 0
`,
  reply: (raw): boolean => Number(raw) === 1
})
