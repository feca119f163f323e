import type { Cluster, Redis } from 'ioredis'
import { ALL_WEBHOOK_EVENTS, type WebhookEventType, type WebhookView } from '@request-out/contracts'
import { newSecret } from './signing.js'

/** After a rotation the old secret signs too, this long (Standard Webhooks' grace period). */
const ROTATION_GRACE_MS = 24 * 3600_000

/** A client's endpoint as stored: what the API shows, plus its secrets (which never leave the server but to sign). */
export interface Endpoint extends Omit<WebhookView, 'Secret'> {
  Secrets: Array<{ Secret: string, Until: number | null }>
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
    this.#redis = redis
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

  async #save (clientId: string, endpoint: Endpoint): Promise<void> {
    await this.#redis.hset(this.#key, clientId, JSON.stringify(endpoint))
  }

  /** Registers or changes the endpoint (enabled again). The first registration answers the new secret, once. */
  async put (clientId: string, url: string, events: WebhookEventType[] = ALL_WEBHOOK_EVENTS): Promise<{ endpoint: Endpoint, secret?: string }> {
    const now = new Date().toISOString()
    const current = await this.get(clientId)
    if (current !== undefined) {
      const endpoint = { ...current, Url: url, Events: events, Enabled: true, DisabledReason: null, UpdatedAt: now }
      await this.#save(clientId, endpoint)
      return { endpoint }
    }
    const secret = newSecret()
    const endpoint: Endpoint = { Url: url, Events: events, Enabled: true, DisabledReason: null, CreatedAt: now, UpdatedAt: now, Secrets: [{ Secret: secret, Until: null }] }
    await this.#save(clientId, endpoint)
    return { endpoint, secret }
  }

  async remove (clientId: string): Promise<boolean> {
    return await this.#redis.hdel(this.#key, clientId) === 1
  }

  /** A new secret; the previous one keeps signing for 24 hours. Answers the new one, once. */
  async rotate (clientId: string): Promise<{ endpoint: Endpoint, secret: string } | undefined> {
    const current = await this.get(clientId)
    if (current === undefined) return undefined
    const now = Date.now()
    const secret = newSecret()
    const previous = current.Secrets.filter((s) => s.Until === null || s.Until > now).map((s) => ({ Secret: s.Secret, Until: s.Until ?? now + ROTATION_GRACE_MS }))
    const endpoint = { ...current, Secrets: [{ Secret: secret, Until: null }, ...previous], UpdatedAt: new Date(now).toISOString() }
    await this.#save(clientId, endpoint)
    return { endpoint, secret }
  }

  async setEnabled (clientId: string, enabled: boolean, reason: string | null = null): Promise<Endpoint | undefined> {
    const current = await this.get(clientId)
    if (current === undefined) return undefined
    const endpoint = { ...current, Enabled: enabled, DisabledReason: enabled ? null : reason, UpdatedAt: new Date().toISOString() }
    await this.#save(clientId, endpoint)
    return endpoint
  }
}
