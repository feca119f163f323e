import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import type { UserRecord } from '@request-out/contracts'
import { redisKeys } from '@request-out/redis-keys'
import { countLoginFailureScript } from '../scripts/count-login-failure.js'
import { HttpProblem, unavailable } from '../http-problem.js'
import type { UserDirectory } from '../user-directory.js'

declare module 'fastify' {
  interface FastifyInstance {
    loginGuard: ReturnType<typeof createLoginGuard>
  }
}

const WINDOW_MS = 60_000

interface Limits {
  /** Failed logins per username and address: slows one guesser on one account. */
  pair: number
  /** Per username over every address: bounds a distributed guess, above `pair` so one address cannot lock a user out. */
  user: number
  /** Per address over every username: bounds spraying many accounts from one place. */
  address: number
}

/**
 * Failed logins over both doors (`/v1/auth/login` and `/admin/login`), counted in Redis so every
 * intake shares them, and in memory too, so the limits hold while Redis is unreachable (then per
 * intake). Also bounds how many scrypt hashes run at once, so a flood of guesses cannot starve
 * real users' logins of CPU.
 */
function createLoginGuard (app: FastifyInstance) {
  const { env } = app.config
  const limits: Limits = { pair: env.LOGIN_RATE_LIMIT_MAX, user: env.LOGIN_USER_RATE_LIMIT_MAX, address: env.LOGIN_ADDRESS_RATE_LIMIT_MAX }
  const redis = app.redis.producer
  countLoginFailureScript.define(redis)
  const loginKeys = redisKeys(env.QUEUE_PREFIX)
  const local = new Map<string, number>()
  let localWindow = 0

  const windowOf = (now: number): number => Math.floor(now / WINDOW_MS)
  const keysFor = (username: string, address: string, window: number): [string, string, string] => {
    return [loginKeys.loginPair(window, address, username), loginKeys.loginUser(window, username), loginKeys.loginAddress(window, address)]
  }
  const countLocally = (keys: string[], window: number): void => {
    if (window !== localWindow) {
      local.clear()
      localWindow = window
    }
    for (const k of keys) local.set(k, (local.get(k) ?? 0) + 1)
  }

  const maxConcurrent = env.LOGIN_HASH_CONCURRENCY
  const maxQueued = maxConcurrent * 32
  let running = 0
  const queued: Array<() => void> = []

  return {
    /** Throws 429 RATE_LIMITED (with Retry-After until the window ends) when any limit is used up. */
    async check (username: string, address: string): Promise<void> {
      const now = Date.now()
      const window = windowOf(now)
      const keys = keysFor(username, address, window)
      let counts = keys.map((k) => (window === localWindow ? local.get(k) ?? 0 : 0))
      if (app.redis.isReady()) {
        try {
          const shared = await redis.mget(...keys)
          counts = counts.map((c, i) => Math.max(c, Number(shared[i] ?? 0)))
        } catch (err) {
          // Unreachable or hung: the in-memory counts decide (fail closed rather than open).
          app.redis.monitor.commandFailed(err)
        }
      }
      const [pair = 0, user = 0, addr = 0] = counts
      if (pair >= limits.pair || user >= limits.user || addr >= limits.address) {
        const retryAfter = Math.max(1, Math.ceil(((window + 1) * WINDOW_MS - now) / 1000))
        throw new HttpProblem('RATE_LIMITED', 'Too many failed logins; retry later', { 'retry-after': String(retryAfter) })
      }
    },

    /** Counts one failed login against all three limits. */
    async failed (username: string, address: string): Promise<void> {
      const window = windowOf(Date.now())
      const keys = keysFor(username, address, window)
      countLocally(keys, window)
      if (!app.redis.isReady()) return
      try {
        const [pair, user, address_] = keys
        await countLoginFailureScript.run(redis, { pair, user, address: address_ }, { ttlMs: 2 * WINDOW_MS })
      } catch (err) {
        app.redis.monitor.commandFailed(err)
      }
    },

    /**
     * The one way in for both login doors: refused while a limit is used up, the password checked
     * in a hashing slot, and a failure counted. Resolves the user, or undefined for wrong credentials.
     */
    async authenticate (users: UserDirectory, username: string, password: string, address: string): Promise<UserRecord | undefined> {
      await this.check(username, address)
      const user = await this.hashing(async () => users.authenticate(username, password))
      if (user === undefined) await this.failed(username, address)
      return user
    },

    /** Runs a password check when a hashing slot is free; 503 when too many are waiting already. */
    async hashing<T> (fn: () => Promise<T>): Promise<T> {
      if (running >= maxConcurrent) {
        if (queued.length >= maxQueued) throw unavailable('Too many logins at once; retry later')
        await new Promise<void>((resolve) => queued.push(resolve))
      } else {
        running++
      }
      try {
        return await fn()
      } finally {
        const next = queued.shift()
        // The slot passes straight to the next waiter; `running` stays the same.
        if (next !== undefined) next()
        else running--
      }
    }
  }
}

async function loginGuardPlugin (app: FastifyInstance): Promise<void> {
  app.decorate('loginGuard', createLoginGuard(app))
}

export default fp(loginGuardPlugin, { name: 'login-guard', dependencies: ['config', 'redis'], fastify: '5.x' })
