import type { RedisClient } from '@request-out/redis-connection'
import type { RedisKeys } from '@request-out/redis-keys'
import { fairPriorityScript } from './scripts/fair-priority.js'
import { returnFairTurnScript } from './scripts/return-fair-turn.js'

/** BullMQ's highest priority number (lowest urgency); priorities are 1 … this. */
const MAX_PRIORITY = 2_097_152

/** Defines the fair-share scripts on a connection, at set-up. */
export function defineFairShareCommands (redis: RedisClient): void {
  fairPriorityScript.define(redis)
  returnFairTurnScript.define(redis)
}

/**
 * The BullMQ priorities of a client's next `count` tickets on a product whose Fairness is
 * `client`: their turns, in order.
 */
export async function fairPriorities (redis: RedisClient, keys: RedisKeys, product: string, clientId: string, count: number): Promise<number[]> {
  const first = await fairPriorityScript.run(redis, { prioritized: keys.prioritized(product), lastByClient: keys.fairShare(product) }, { clientId, maxPriority: MAX_PRIORITY, count })
  return Array.from({ length: count }, (_, i) => Math.min(first + i, MAX_PRIORITY))
}

/** Gives back a turn `fairPriorities` answered, for a ticket that needed no job after all. */
export async function returnFairTurn (redis: RedisClient, keys: RedisKeys, product: string, clientId: string, priority: number): Promise<void> {
  await returnFairTurnScript.run(redis, { lastByClient: keys.fairShare(product) }, { clientId, priority })
}
