import { setTimeout as sleep } from 'node:timers/promises'

/** Polls `check` until it returns a truthy value or `timeoutMs` passes (then throws with `what`). */
export async function waitFor<T> (what: string, check: () => T | Promise<T>, timeoutMs = 10_000, everyMs = 50): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  while (Date.now() < deadline) {
    try {
      const value = await check()
      if (value) return value as NonNullable<T>
    } catch (err) { last = err }
    await sleep(everyMs)
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last instanceof Error ? `: ${last.message}` : ''}`)
}

/**
 * Jobs waiting to run in a queue: BullMQ keeps those with a priority (every fair-shared product's)
 * in its prioritized set, the others in its wait list.
 */
export async function waitingJobs (queue: { getJobCounts: (...types: Array<'waiting' | 'prioritized'>) => Promise<Record<string, number>> } | undefined): Promise<number> {
  const counts = await queue?.getJobCounts('waiting', 'prioritized')
  return (counts?.waiting ?? 0) + (counts?.prioritized ?? 0)
}
