export { TICKET_GROUPS, parseTicketKey, ticketGroup, ticketKey } from './ticket-id.js'
export { KEY_FAMILIES, allTicketEvents, redisKeys, type RedisKeys } from './redis-keys.js'
