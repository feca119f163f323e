import { redisScript } from '@request-out/redis-connection'
import { TicketField as F } from '../ticket-fields.js'

export type CancelReply =
  | { outcome: 'unknown' }
  | { outcome: 'requested' | 'already-requested', product: string }
  | { outcome: 'final', product: string, record: string }

const OUTCOMES = ['unknown', 'requested', 'final', 'already-requested'] as const

/**
 * Asks for a ticket's cancellation, once: marks the hash (`cancel`: when), appends
 * `cancel-requested`, and announces it to every worker (the one running the ticket aborts it).
 *
 * KEYS: ticket (hash), events (its group's stream).
 * ARGV: at (epoch ms), clientId, ticketId, by, channel, member (the ticket's id).
 * Reply: {0} unknown; {1, '', product} asked now; {2, record, product} it has its record;
 *   {3, '', product} asked before, still under way.
 */
export const requestCancelScript = redisScript({
  name: 'roRequestCancel',
  keys: ['ticket', 'events'],
  args: ['at', 'clientId', 'ticketId', 'by', 'channel', 'member'],
  lua: `
if redis.call('EXISTS', KEYS[1]) == 0 then return {0, '', ''} end
local v = redis.call('HMGET', KEYS[1], '${F.record}', '${F.code}', '${F.cancel}', '${F.product}', '${F.acceptedAt}')
if v[2] then return {2, v[1] or '', v[4] or ''} end
if v[3] then return {3, '', v[4] or ''} end
redis.call('HSET', KEYS[1], '${F.cancel}', ARGV[1])
redis.call('XADD', KEYS[2], '*', 'type', 'cancel-requested', 'clientId', ARGV[2], 'ticketId', ARGV[3], 'at', ARGV[1],
  'by', ARGV[4], 'acceptedAt', v[5] or '', 'product', v[4] or '')
redis.call('PUBLISH', ARGV[5], ARGV[6])
return {1, '', v[4] or ''}
`,
  reply: (raw): CancelReply => {
    const [state, record, product] = raw as [number, string, string]
    const outcome = OUTCOMES[state]
    if (outcome === 'unknown') return { outcome }
    if (outcome === 'final') return { outcome, product, record }
    if (outcome === 'requested' || outcome === 'already-requested') return { outcome, product }
    throw new Error(`the cancel script answered ${String(state)}`)
  }
})
