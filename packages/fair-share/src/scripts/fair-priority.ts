import { redisScript } from '@request-out/redis-connection'

/**
 * Fair sharing between the clients of a product, on BullMQ's priorities (start-time fair queuing):
 * a client's next ticket gets the priority after its previous one, but never lower than the
 * priority now at the head of the queue. A client with a backlog keeps its turn order; a client
 * without one starts at the head, so it waits for about one ticket of each other client, not for
 * their backlogs. Within a client, priorities rise: FIFO. The rounds restart whenever nothing waits
 * in the prioritized set; a queue that never empties for MAX_PRIORITY rounds is clamped there (new
 * tickets then queue FIFO behind the older ones) until it drains.
 *
 * It reads BullMQ's internal score of a prioritized job, priority * 2^32 + a counter
 * (`fair-share.test.ts` fails first when a BullMQ upgrade changes that).
 *
 * KEYS: prioritized (BullMQ's sorted set of the queue), lastByClient (hash: each client's last priority; same slot).
 * ARGV: clientId, maxPriority, count (how many turns the client takes at once).
 * Reply: the first of the `count` priorities.
 */
export const fairPriorityScript = redisScript({
  name: 'roFairPriority',
  keys: ['prioritized', 'lastByClient'],
  args: ['clientId', 'maxPriority', 'count'],
  lua: `
local head = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if #head == 0 then
  redis.call('DEL', KEYS[2])
end
local now = 0
if head[2] then now = math.floor(tonumber(head[2]) / 4294967296) - 1 end
local last = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')
local p = math.max(now, last) + 1
if p > tonumber(ARGV[2]) then p = tonumber(ARGV[2]) end
redis.call('HSET', KEYS[2], ARGV[1], math.min(p + tonumber(ARGV[3]) - 1, tonumber(ARGV[2])))
return p
`,
  reply: (raw) => Number(raw)
})
