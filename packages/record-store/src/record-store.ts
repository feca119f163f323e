import type { TicketEnvelope } from '@request-out/contracts'
import type { Cluster, Redis } from 'ioredis'
import { ticketKey } from './ticket-key.js'

type RedisClient = Redis | Cluster

export interface RecordStoreOptions {
  /** Key prefix, the same QUEUE_PREFIX as the queues. */
  prefix: string
  /** How long a ticket and its record are kept, counted from acceptance and again from the record. */
  ttlSeconds: number
}

export type ClaimResult =
  | { outcome: 'claimed' }
  | { outcome: 'existing', sameFields: boolean, record: TicketEnvelope | undefined }

export type TicketState =
  | { exists: false }
  | { exists: true, product: string, record: TicketEnvelope | undefined }

// Each script touches one key (the ticket's hash), so it is valid on Redis Cluster too.
const CLAIM = `
if redis.call('EXISTS', KEYS[1]) == 1 then
  local v = redis.call('HMGET', KEYS[1], 'fp', 'rec')
  return {0, v[1] or '', v[2] or ''}
end
redis.call('HSET', KEYS[1], 'fp', ARGV[1], 'product', ARGV[2], 'at', ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[4])
return {1, '', ''}
`
// A record is final, except one that says the product never answered (PRODUCT_FAILED): a later
// outcome of the same ticket (an operator's retry, or a late duplicate delivery) replaces it.
const WRITE_RECORD = `
local current = redis.call('HGET', KEYS[1], 'code')
if current and (current ~= 'PRODUCT_FAILED' or ARGV[5] == 'PRODUCT_FAILED') then return 0 end
redis.call('HSET', KEYS[1], 'rec', ARGV[1], 'code', ARGV[5])
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('PUBLISH', ARGV[3], ARGV[4])
return 1
`

interface ScriptCommands {
  roClaimTicket: (key: string, fp: string, product: string, at: string, ttl: string) => Promise<[number, string, string]>
  roWriteRecord: (key: string, record: string, ttl: string, channel: string, member: string, code: string) => Promise<number>
}

export function recordChannel (prefix: string): string {
  return `${prefix}:records`
}

/**
 * Tickets and their final records. A ticket is one Redis hash holding the fingerprint of its
 * fields, its product and, once final, its record (the envelope a GET answers with).
 */
export class RecordStore {
  readonly #redis: RedisClient & ScriptCommands
  readonly #prefix: string
  readonly #ttl: string
  readonly #channel: string

  constructor (redis: RedisClient, options: RecordStoreOptions) {
    if (!('roClaimTicket' in redis)) {
      redis.defineCommand('roClaimTicket', { numberOfKeys: 1, lua: CLAIM })
      redis.defineCommand('roWriteRecord', { numberOfKeys: 1, lua: WRITE_RECORD })
    }
    this.#redis = redis as RedisClient & ScriptCommands
    this.#prefix = options.prefix
    this.#ttl = String(options.ttlSeconds)
    this.#channel = recordChannel(options.prefix)
  }

  #key (id: string): string {
    return `${this.#prefix}:ticket:${id}`
  }

  /** Registers a new ticket, or tells what is already there under this client's TicketId. */
  async claim (clientId: string, ticketId: string, fingerprint: string, product: string): Promise<ClaimResult> {
    const [created, fp, rec] = await this.#redis.roClaimTicket(
      this.#key(ticketKey(clientId, ticketId)), fingerprint, product, String(Date.now()), this.#ttl
    )
    if (created === 1) return { outcome: 'claimed' }
    return { outcome: 'existing', sameFields: fp === fingerprint, record: parseRecord(rec) }
  }

  async read (clientId: string, ticketId: string): Promise<TicketState> {
    const [product, rec] = await this.#redis.hmget(this.#key(ticketKey(clientId, ticketId)), 'product', 'rec')
    if (product === null && rec === null) return { exists: false }
    return { exists: true, product: product ?? '', record: parseRecord(rec) }
  }

  /** True when the ticket has a record no later outcome may replace (anything but PRODUCT_FAILED). */
  async hasFinalRecord (clientId: string, ticketId: string): Promise<boolean> {
    const code = await this.#redis.hget(this.#key(ticketKey(clientId, ticketId)), 'code')
    return code !== null && code !== 'PRODUCT_FAILED'
  }

  /**
   * Stores the ticket's record unless a final one is there already (a job delivered twice must not
   * overwrite the first outcome; only a PRODUCT_FAILED record gives way to a later outcome), then
   * announces it to long polls. Resolves true when written.
   */
  async writeRecord (clientId: string, ticketId: string, record: TicketEnvelope): Promise<boolean> {
    const id = ticketKey(clientId, ticketId)
    const code = record.Code ?? 'SUCCESS'
    const written = await this.#redis.roWriteRecord(this.#key(id), JSON.stringify(record), this.#ttl, this.#channel, id, code)
    return written === 1
  }
}

function parseRecord (raw: string | null | undefined): TicketEnvelope | undefined {
  if (raw === null || raw === undefined || raw === '') return undefined
  return JSON.parse(raw) as TicketEnvelope
}
