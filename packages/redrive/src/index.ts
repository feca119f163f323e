export { RedriveRunner } from './redrive-runner.js'
export { RedriveStore } from './redrive-store.js'
