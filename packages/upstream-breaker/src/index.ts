export { isRefusing, stateAt, type BreakerState, type BreakerStateName } from './breaker-state.js'
export {
  ackTransition, defineBreakerReads, pauseProduct, pendingTransitions, readBreaker, type BreakerTransition
} from './breaker-reads.js'
export { ProductBreaker, type BreakerObserver } from './product-breaker.js'
export type { ProbeOutcome } from './scripts/settle-probe.js'
