import type { Cluster, Redis } from 'ioredis'
import { ALL_WEBHOOK_EVENTS, type WebhookEventType, type WebhookView } from '@request-out/contracts'
import { defineScript } from '@request-out/redis-connection'
import { newSecret } from './signing.js'

/** After a rotation the old secret signs too, this long (Standard Webhooks' grace period). */
const ROTATION_GRACE_MS = 24 * 3600_000

/** A client's endpoint as stored: what the API shows, plus its secrets (which never leave the server but to sign). */
export interface Endpoint extends Omit<WebhookView, 'Secret'> {
  /** The current secret (Until null) and at most the previous one, during its grace period. */
  Secrets: Array<{ Secret: string, Until: number | null }>
  /** Who disabled it: an operator's disable stays until an operator enables; a receiver's 410 ends with the client's next PUT. */
  DisabledBy?: 'operator' | 'receiver' | null
}

// Each write reads and replaces the entry in one script: two first registrations or rotations at
// once cannot answer a secret the other one overwrote (it would never sign).
// PUT. ARGV: client, url, events (JSON), now (ISO), a new secret. Answers {1 created | 0 changed, entry}.
const PUT = `
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if raw then
  local e = cjson.decode(raw)
  e.Url = ARGV[2]
  e.Events = cjson.decode(ARGV[3])
  e.UpdatedAt = ARGV[4]
  if e.DisabledBy ~= 'operator' then
    e.Enabled = true
    e.DisabledReason = cjson.null
    e.DisabledBy = cjson.null
  end
  raw = cjson.encode(e)
  redis.call('HSET', KEYS[1], ARGV[1], raw)
  return {0, raw}
end
raw = cjson.encode({ Url = ARGV[2], Events = cjson.decode(ARGV[3]), Enabled = true, DisabledReason = cjson.null, DisabledBy = cjson.null,
  CreatedAt = ARGV[4], UpdatedAt = ARGV[4], Secrets = { { Secret = ARGV[5], Until = cjson.null } } })
redis.call('HSET', KEYS[1], ARGV[1], raw)
return {1, raw}
`
// Rotation. ARGV: client, now (ms), the new secret, grace (ms), now (ISO). The current secret signs
// for the grace period; one still in an earlier grace period stops (two secrets at most). Answers the entry, or false.
const ROTATE = `
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return false end
local e = cjson.decode(raw)
local secrets = { { Secret = ARGV[3], Until = cjson.null } }
for _, s in ipairs(e.Secrets) do
  if s.Until == cjson.null then secrets[2] = { Secret = s.Secret, Until = tonumber(ARGV[2]) + tonumber(ARGV[4]) } end
end
e.Secrets = secrets
e.UpdatedAt = ARGV[5]
raw = cjson.encode(e)
redis.call('HSET', KEYS[1], ARGV[1], raw)
return raw
`
// Enable or disable. ARGV: client, enabled (1/0), reason, by (operator / receiver), now (ISO). A
// receiver's 410 does not replace an operator's disable. Answers the entry, or false.
const SET_ENABLED = `
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return false end
local e = cjson.decode(raw)
if ARGV[2] == '1' then
  e.Enabled = true
  e.DisabledReason = cjson.null
  e.DisabledBy = cjson.null
elseif e.DisabledBy ~= 'operator' then
  e.Enabled = false
  e.DisabledReason = ARGV[3]
  e.DisabledBy = ARGV[4]
end
e.UpdatedAt = ARGV[5]
raw = cjson.encode(e)
redis.call('HSET', KEYS[1], ARGV[1], raw)
return raw
`

interface EndpointCommands {
  roWebhookPut: (key: string, client: string, url: string, events: string, now: string, secret: string) => Promise<[number, string]>
  roWebhookRotate: (key: string, client: string, nowMs: string, secret: string, graceMs: string, now: string) => Promise<string | null>
  roWebhookSetEnabled: (key: string, client: string, enabled: string, reason: string, by: string, now: string) => Promise<string | null>
}

export const view = (e: Endpoint, secret?: string): WebhookView => ({
  Url: e.Url,
  Events: e.Events,
  Enabled: e.Enabled,
  DisabledReason: e.DisabledReason,
  CreatedAt: e.CreatedAt,
  UpdatedAt: e.UpdatedAt,
  ...(secret === undefined ? {} : { Secret: secret })
})

/** The secrets that sign a delivery now: the current one, and the previous one during its grace period. */
export function signingSecrets (e: Endpoint, now = Date.now()): string[] {
  return e.Secrets.filter((s) => s.Until === null || s.Until > now).map((s) => s.Secret)
}

/**
 * Clients' webhook endpoints, one per client, in one Redis hash (`{prefix}:webhooks`, field =
 * client). Every intake and worker reads it; writes are whole-entry replacements.
 */
export class EndpointStore {
  readonly #redis: (Redis | Cluster) & EndpointCommands
  readonly #key: string

  constructor (redis: Redis | Cluster, prefix: string) {
    defineScript(redis, 'roWebhookPut', 1, PUT)
    defineScript(redis, 'roWebhookRotate', 1, ROTATE)
    defineScript(redis, 'roWebhookSetEnabled', 1, SET_ENABLED)
    this.#redis = redis as (Redis | Cluster) & EndpointCommands
    this.#key = `${prefix}:webhooks`
  }

  async get (clientId: string): Promise<Endpoint | undefined> {
    const raw = await this.#redis.hget(this.#key, clientId)
    return raw === null ? undefined : JSON.parse(raw) as Endpoint
  }

  async list (): Promise<Array<{ clientId: string, endpoint: Endpoint }>> {
    const all = await this.#redis.hgetall(this.#key)
    return Object.entries(all).map(([clientId, raw]) => ({ clientId, endpoint: JSON.parse(raw) as Endpoint })).sort((a, b) => a.clientId.localeCompare(b.clientId))
  }

  /**
   * Registers or changes the endpoint, enabled again unless an operator disabled it (that stays
   * until an operator enables it). The first registration answers the new secret, once.
   */
  async put (clientId: string, url: string, events: WebhookEventType[] = ALL_WEBHOOK_EVENTS): Promise<{ endpoint: Endpoint, secret?: string }> {
    const secret = newSecret()
    const [created, raw] = await this.#redis.roWebhookPut(this.#key, clientId, url, JSON.stringify(events), new Date().toISOString(), secret)
    const endpoint = JSON.parse(raw) as Endpoint
    return created === 1 ? { endpoint, secret } : { endpoint }
  }

  async remove (clientId: string): Promise<boolean> {
    return await this.#redis.hdel(this.#key, clientId) === 1
  }

  /** A new secret; the current one keeps signing for 24 hours (an older one stops). Answers the new one, once. */
  async rotate (clientId: string): Promise<{ endpoint: Endpoint, secret: string } | undefined> {
    const now = Date.now()
    const secret = newSecret()
    const raw = await this.#redis.roWebhookRotate(this.#key, clientId, String(now), secret, String(ROTATION_GRACE_MS), new Date(now).toISOString())
    return raw === null ? undefined : { endpoint: JSON.parse(raw) as Endpoint, secret }
  }

  /** By an operator (the pages), or by the receiver (a 410): a receiver's disable never replaces an operator's. */
  async setEnabled (clientId: string, enabled: boolean, reason: string | null = null, by: 'operator' | 'receiver' = 'operator'): Promise<Endpoint | undefined> {
    const raw = await this.#redis.roWebhookSetEnabled(this.#key, clientId, enabled ? '1' : '0', reason ?? '', by, new Date().toISOString())
    return raw === null ? undefined : JSON.parse(raw) as Endpoint
  }
}
