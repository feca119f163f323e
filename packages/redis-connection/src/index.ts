export * from './connections.js'
export * from './eviction-policy.js'
export * from './connection-monitor.js'
