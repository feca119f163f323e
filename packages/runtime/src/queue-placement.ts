/** The job states both apps count (queue depth gauges, the products page, the overload guard). */
export const QUEUE_STATES = ['waiting', 'active', 'delayed', 'prioritized', 'failed', 'completed'] as const
type QueueState = (typeof QUEUE_STATES)[number]
export type QueueCounts = Record<QueueState, number>
