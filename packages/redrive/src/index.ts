export { RedriveRunner } from './redrive-runner.js'
export { hasRedriveScope, RedriveStore } from './redrive-store.js'
