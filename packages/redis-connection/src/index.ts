export * from './connections.js'
export * from './server-checks.js'
export * from './connection-monitor.js'
export * from './leased-slots.js'
