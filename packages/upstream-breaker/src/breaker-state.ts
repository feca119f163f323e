/** The three states of a product's upstream breaker. */
export type BreakerStateName = 'closed' | 'half-open' | 'open'

/** A breaker as its Redis hash holds it (times in epoch ms, 0 for never). */
export interface BreakerState {
  state: BreakerStateName
  /** When it entered its state; 0 if it never left closed. */
  since: number
  lastFailure: number
  /** Open: when one probe try is let through (the state reads half-open from then on). */
  probeAt: number
  /** Why it last opened: the failures in a row, the window's share, or the probe's failure. */
  reason: string
}

export const CLOSED: BreakerState = { state: 'closed', since: 0, lastFailure: 0, probeAt: 0, reason: '' }

/** The hash's fields, in the order parseBreaker reads them. */
export const BREAKER_FIELDS = ['state', 'since', 'lastFailure', 'probeAt', 'reason'] as const

/** A breaker's hash fields (HMGET of BREAKER_FIELDS) as a state; an empty hash is a closed breaker. */
export function parseBreaker (values: ReadonlyArray<string | null | undefined>): BreakerState {
  const [state, since, lastFailure, probeAt, reason] = values
  return {
    reason: reason ?? '',
    state: state === 'open' || state === 'half-open' ? state : 'closed',
    since: Number(since ?? 0) || 0,
    lastFailure: Number(lastFailure ?? 0) || 0,
    probeAt: Number(probeAt ?? 0) || 0
  }
}

/** The state as of `now`: an open breaker whose probe time has come is half-open (its probe may start). */
export function stateAt (breaker: BreakerState, now: number): BreakerStateName {
  return breaker.state === 'open' && now >= breaker.probeAt ? 'half-open' : breaker.state
}

/** True while new tickets meet a closed door: open, before its probe time. Half-open accepts them, so there is something to probe. */
export function isRefusing (breaker: BreakerState, now: number): boolean {
  return stateAt(breaker, now) === 'open'
}
