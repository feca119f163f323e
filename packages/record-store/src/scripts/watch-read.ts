import { redisScript } from '@request-out/redis-connection'
import { TicketField as F } from '../ticket-fields.js'

/**
 * A long poll's read: marks the ticket as waited on (its record will be announced) unless the
 * record is there already, in the same step as the read, so a record cannot slip in between.
 *
 * KEYS: ticket (hash).
 * ARGV: none.
 * Reply: {product, record}, each '' when absent.
 */
export const watchReadScript = redisScript({
  name: 'roWatchRead',
  keys: ['ticket'],
  args: [],
  lua: `
local v = redis.call('HMGET', KEYS[1], '${F.product}', '${F.record}')
if v[1] and not v[2] then redis.call('HSET', KEYS[1], '${F.watched}', '1') end
return {v[1] or '', v[2] or ''}
`,
  reply: (raw) => {
    const [product, record] = raw as [string, string]
    return { product: product === '' ? null : product, record: record === '' ? null : record }
  }
})
