import { redisScript } from '@request-out/redis-connection'
import { TicketField as F } from '../ticket-fields.js'

/**
 * Stores a ticket's erased record and fingerprint, only while the ticket is still there (an
 * expired one is not revived).
 *
 * KEYS: ticket (hash).
 * ARGV: record (erased, JSON), fingerprint (the erased marker).
 * Reply: true when the ticket was there.
 */
export const eraseTicketScript = redisScript({
  name: 'roEraseTicket',
  keys: ['ticket'],
  args: ['record', 'fingerprint'],
  lua: `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], '${F.record}', ARGV[1], '${F.fingerprint}', ARGV[2])
return 1
`,
  reply: (raw) => raw === 1
})
