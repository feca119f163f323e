import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { waitForRedis } from '@request-out/redis-connection'
import { redisKeys } from '@request-out/redis-keys'

declare module 'fastify' {
  interface FastifyInstance {
    revocations: ReturnType<typeof createRevocations>
  }
}

/** What a token is checked against: its id, its user and when it was issued (seconds). */
interface TokenIdentity {
  jti?: string | undefined
  sub: string
  iat?: number | undefined
}

// A safety net under pub/sub: a message missed while the subscriber reconnected is picked up here.
const RELOAD_MS = 30_000

/**
 * Revoked tokens and users. Kept in one Redis hash (one key, so it works on a cluster) for the
 * token's remaining lifetime, announced on a channel, and held in memory by every intake: the
 * check on each request is a map lookup, never a Redis call. Until the list has been read once
 * the intake cannot tell a revoked token from a good one, so it refuses them all (503): fail closed.
 *
 * Fields: `jti:<id>` → expiry (ms); `user:<name>` → `<revokedAt ms>:<expiry ms>`, which revokes
 * every token of that user issued at or before `revokedAt`.
 */
function createRevocations (app: FastifyInstance, userRevocationTtlMs: number) {
  // The hash and the channel its changes are announced on share the name.
  const key = redisKeys(app.config.env.QUEUE_PREFIX).revocations
  const channel = key
  const { producer, subscriber } = app.redis
  let tokens = new Map<string, number>()
  let users = new Map<string, { revokedAt: number, until: number }>()
  let loaded = false

  function apply (field: string, value: string, into = { tokens, users }): void {
    if (field.startsWith('jti:')) into.tokens.set(field.slice(4), Number(value))
    else if (field.startsWith('user:')) {
      const [revokedAt, until] = value.split(':').map(Number)
      const current = into.users.get(field.slice(5))
      if (current === undefined || (revokedAt ?? 0) > current.revokedAt) into.users.set(field.slice(5), { revokedAt: revokedAt ?? 0, until: until ?? 0 })
    }
  }

  async function load (): Promise<void> {
    const raw = await producer.hgetall(key)
    const now = Date.now()
    const fresh = { tokens: new Map<string, number>(), users: new Map<string, { revokedAt: number, until: number }>() }
    const expired: string[] = []
    for (const [field, value] of Object.entries(raw)) {
      const until = Number(value.split(':').at(-1))
      if (until < now) expired.push(field)
      else apply(field, value, fresh)
    }
    // Revocations announced while this read was under way are kept.
    for (const [id, until] of tokens) if (!fresh.tokens.has(id)) fresh.tokens.set(id, until)
    for (const [name, v] of users) if (!fresh.users.has(name) && v.until >= now) fresh.users.set(name, v)
    tokens = fresh.tokens
    users = fresh.users
    loaded = true
    if (expired.length > 0) await producer.hdel(key, ...expired)
  }

  const reload = (): void => {
    if (!app.redis.isReady()) return
    load().catch((err: unknown) => app.log.debug({ err }, 'revocations not reloaded; kept the last known ones'))
  }

  subscriber.on('message', (ch: string, message: string) => {
    if (ch !== channel) return
    const at = message.indexOf('=')
    if (at > 0) apply(message.slice(0, at), message.slice(at + 1))
  })
  subscriber.subscribe(channel).catch(() => { /* ioredis subscribes once it connects */ })
  // After a reconnect, messages sent meanwhile were missed: read the whole list again.
  subscriber.on('ready', reload)
  producer.on('ready', reload)
  const timer = setInterval(reload, RELOAD_MS)
  timer.unref()

  // Expired entries are removed from the hash on reload; the hash itself stays small.
  async function save (field: string, value: string): Promise<void> {
    apply(field, value)
    await producer.multi().hset(key, field, value).publish(channel, `${field}=${value}`).exec()
  }

  return {
    get loaded (): boolean { return loaded },

    /** Reads the list now (start-up waits for this briefly, so the first requests are not refused). */
    async ready (timeoutMs: number): Promise<void> {
      try {
        await waitForRedis(producer, timeoutMs)
        await load()
      } catch (err) {
        app.log.debug({ err }, 'revocations not read at start; tokens are refused until they are')
      }
    },

    isRevoked (token: TokenIdentity, now = Date.now()): boolean {
      if (token.jti !== undefined) {
        const until = tokens.get(token.jti)
        if (until !== undefined && until >= now) return true
      }
      const user = users.get(token.sub)
      return user !== undefined && user.until >= now && (token.iat ?? 0) * 1000 <= user.revokedAt
    },

    /** Revokes one token until `expiresAtMs` (its own expiry, or the longest lifetime when unknown). */
    async revokeToken (jti: string, expiresAtMs: number = Date.now() + userRevocationTtlMs): Promise<void> {
      await save(`jti:${jti}`, String(expiresAtMs))
    },

    /** Revokes every token of a user issued until now. */
    async revokeUser (username: string): Promise<void> {
      const now = Date.now()
      await save(`user:${username}`, `${now}:${now + userRevocationTtlMs}`)
    },

    close (): void {
      clearInterval(timer)
    }
  }
}

async function revocationsPlugin (app: FastifyInstance): Promise<void> {
  const { auth, env } = app.config
  // A user's revocation must outlive every token issued before it (plus the verifier's clock tolerance).
  const ttlMs = (auth.mode === 'login' ? env.JWT_EXPIRES_IN_SECONDS : env.REVOCATION_TTL_SECONDS) * 1000 + 10_000
  const revocations = createRevocations(app, ttlMs)
  app.decorate('revocations', revocations)
  app.addHook('onReady', async () => revocations.ready(2000))
  app.addHook('onClose', async () => revocations.close())
}

export default fp(revocationsPlugin, { name: 'revocations', dependencies: ['config', 'redis'], fastify: '5.x' })
