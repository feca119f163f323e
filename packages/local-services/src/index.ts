export * from './ports.js'
export * from './debian.js'
export * from './redis.js'
export * from './postgres.js'
