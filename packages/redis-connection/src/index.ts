export {
  closeRedis, createRedis, describeTarget, isRedisReady, isRedisUnavailable, waitForRedis,
  type RedisClient, type RedisTarget
} from './connections.js'
export { monitorConnection, type ConnectionMonitor } from './connection-monitor.js'
export { acquireLeasedSlot, defineLeasedSlotCommands, releaseLeasedSlot } from './leased-slots.js'
export { codeReply, redisScript } from './scripts.js'
/** @public The declarations of every script module name these. */
export type { RedisScript, ScriptSpec } from './scripts.js'
