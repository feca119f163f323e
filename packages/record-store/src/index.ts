export * from './ticket-key.js'
export * from './record-store.js'
export * from './record-waiter.js'
