export * from './logger.js'
export * from './personal-data.js'
export * from './queue-placement.js'
export * from './graceful-stop.js'
