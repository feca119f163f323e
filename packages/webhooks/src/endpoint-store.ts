import type { Cluster, Redis } from 'ioredis'
import { ALL_WEBHOOK_EVENTS, type WebhookEventType, type WebhookView } from '@request-out/contracts'
import { redisKeys } from '@request-out/redis-keys'
import { putEndpointScript } from './scripts/put-endpoint.js'
import { rotateSecretScript } from './scripts/rotate-secret.js'
import { setEndpointEnabledScript } from './scripts/set-endpoint-enabled.js'
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
  readonly #redis: Redis | Cluster
  readonly #key: string

  constructor (redis: Redis | Cluster, prefix: string) {
    for (const script of [putEndpointScript, rotateSecretScript, setEndpointEnabledScript]) script.define(redis)
    this.#redis = redis
    this.#key = redisKeys(prefix).webhookEndpoints
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
    const { created, entry } = await putEndpointScript.run(this.#redis, { endpoints: this.#key },
      { clientId, url, events: JSON.stringify(events), now: new Date().toISOString(), secret })
    const endpoint = JSON.parse(entry) as Endpoint
    return created ? { endpoint, secret } : { endpoint }
  }

  async remove (clientId: string): Promise<boolean> {
    return await this.#redis.hdel(this.#key, clientId) === 1
  }

  /** A new secret; the current one keeps signing for 24 hours (an older one stops). Answers the new one, once. */
  async rotate (clientId: string): Promise<{ endpoint: Endpoint, secret: string } | undefined> {
    const now = Date.now()
    const secret = newSecret()
    const raw = await rotateSecretScript.run(this.#redis, { endpoints: this.#key },
      { clientId, nowMs: now, secret, graceMs: ROTATION_GRACE_MS, now: new Date(now).toISOString() })
    return raw === null ? undefined : { endpoint: JSON.parse(raw) as Endpoint, secret }
  }

  /** By an operator (the pages), or by the receiver (a 410): a receiver's disable never replaces an operator's. */
  async setEnabled (clientId: string, enabled: boolean, reason: string | null = null, by: 'operator' | 'receiver' = 'operator'): Promise<Endpoint | undefined> {
    const raw = await setEndpointEnabledScript.run(this.#redis, { endpoints: this.#key },
      { clientId, enabled: enabled ? 1 : 0, reason: reason ?? '', by, now: new Date().toISOString() })
    return raw === null ? undefined : JSON.parse(raw) as Endpoint
  }
}
