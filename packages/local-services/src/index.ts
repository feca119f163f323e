export { freePort } from './ports.js'
export { hasRedisServer, locateRedis, pingRedis, startPrivateRedis } from './redis.js'
export {
  embeddedPostgresBin, ensureDatabase, folderOthersCannotEnter, locatePostgres,
  startEmbeddedPostgres, startPrivatePostgres, systemPostgresBin, type PrivatePostgres
} from './postgres.js'
