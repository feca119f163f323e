export * from './connections.js'
export * from './eviction-policy.js'
