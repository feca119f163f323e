export * from './redis.js'
export * from './processes.js'
export * from './wait.js'
export * from './compose.js'
