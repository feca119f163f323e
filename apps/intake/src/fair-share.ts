import type { Queue } from 'bullmq'
import { defineScript, type RedisClient } from '@request-out/redis-connection'

/** BullMQ's highest priority number (lowest urgency); priorities are 1 … this. */
const MAX_PRIORITY = 2_097_152

// Fair sharing between the clients of a product, on BullMQ's priorities (start-time fair queuing):
// a client's next ticket gets the priority after its previous one, but never lower than the
// priority now at the head of the queue. A client with a backlog keeps its turn order; a client
// without one starts at the head, so it waits for about one ticket of each other client, not for
// their backlogs. Within a client, priorities rise: FIFO.
//
// The rounds restart whenever nothing waits in the prioritized set, which keeps the numbers far
// below MAX_PRIORITY in practice. A queue that never empties for 2 million rounds is clamped at
// MAX_PRIORITY: new tickets then queue FIFO behind the older ones (no starvation, no fairness)
// until it drains.
//
// KEYS[1] BullMQ's prioritized set (score = priority * 2^32 + counter), KEYS[2] the last priority
// of each client (a hash, same hash tag). ARGV[1] the client, ARGV[2] MAX_PRIORITY, ARGV[3] how
// many turns the client takes at once (its tickets get the first one returned and those after).
const FAIR_PRIORITY = `
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
`

// A turn taken for a ticket that then needed no job goes back, unless the client took another since.
const RETURN_TURN = `
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  redis.call('HSET', KEYS[1], ARGV[1], tonumber(ARGV[2]) - 1)
end
return 0
`

interface FairCommands {
  roFairPriority: (prioritized: string, lastByClient: string, clientId: string, max: string, count: string) => Promise<number>
  roFairReturn: (lastByClient: string, clientId: string, priority: string) => Promise<number>
}

/** Defines the fair-share scripts on a connection (`defineScript`), at set-up. */
export function defineFairShareCommands (redis: RedisClient): void {
  defineScript(redis, 'roFairPriority', 2, FAIR_PRIORITY)
  defineScript(redis, 'roFairReturn', 1, RETURN_TURN)
}

const commands = (redis: RedisClient): RedisClient & FairCommands => redis as RedisClient & FairCommands

/**
 * The BullMQ priorities of a client's next `count` tickets on a product whose Fairness is
 * `client`: their turns, in order.
 */
export async function fairPriorities (redis: RedisClient, queue: Queue, clientId: string, count: number): Promise<number[]> {
  const first = await commands(redis).roFairPriority(queue.keys.prioritized as string, queue.toKey('ro-fair'), clientId, String(MAX_PRIORITY), String(count))
  return Array.from({ length: count }, (_, i) => Math.min(first + i, MAX_PRIORITY))
}

/** Gives back a turn `fairPriorities` answered, for a ticket that needed no job after all. */
export async function returnFairTurn (redis: RedisClient, queue: Queue, clientId: string, priority: number): Promise<void> {
  await commands(redis).roFairReturn(queue.toKey('ro-fair'), clientId, String(priority))
}
