/**
 * Where a product's BullMQ queue lives. The hash tag `{key}` in the prefix keeps every key of
 * one queue in one Redis Cluster slot (BullMQ's scripts need that) while different products
 * hash to different slots, so products spread over a cluster's nodes.
 */
export function productQueue (queuePrefix: string, key: string): { name: string, prefix: string } {
  return { name: key, prefix: `${queuePrefix}:{${key}}` }
}

/** The job states both apps count (queue depth gauges, the products page, the overload guard). */
export const QUEUE_STATES = ['waiting', 'active', 'delayed', 'prioritized', 'failed', 'completed'] as const
export type QueueState = (typeof QUEUE_STATES)[number]
export type QueueCounts = Record<QueueState, number>
