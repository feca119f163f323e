import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { redisKeys } from '@request-out/redis-keys'
import { leaseTokensScript } from '../scripts/lease-tokens.js'
import { HttpProblem } from '../http-problem.js'
import { principalOf } from './auth.js'

declare module 'fastify' {
  interface FastifyInstance {
    clientRate: ReturnType<typeof createClientRate>
  }
  interface FastifyRequest {
    /** Where the client stands under the per-client rate limit, for the RateLimit fields. */
    rateState: RateDecision | undefined
  }
}

/** What a client may do now under the per-client rate limit. */
export interface RateDecision {
  /** How many of the asked tokens were granted (0: refuse with 429). */
  allowed: number
  /** Tokens left in the window, as far as this intake knows. */
  remaining: number
  /** Seconds until the window ends. */
  resetSeconds: number
}

interface ClientState {
  granted: number
  used: number
  count: number
  /** The window's counter is used up: no more leases until the next window (refusals cost no Redis call). */
  exhausted: boolean
}

/**
 * The per-client rate limit (RATE_LIMIT_MAX per RATE_LIMIT_WINDOW_MS, shared by every intake)
 * without a Redis call per request: an intake takes tokens from the client's window counter in
 * Redis in leases (about a twentieth of the limit, at most 100) and spends them locally. The
 * counter never grants past the limit, so clients get at most RATE_LIMIT_MAX per window over all
 * intakes; a lease held by one intake is not available to another, so a client spread over several
 * intakes may be refused up to a lease per intake early. Windows are aligned to the epoch.
 */
function createClientRate (app: FastifyInstance) {
  const { env } = app.config
  const max = env.RATE_LIMIT_MAX
  const windowMs = env.RATE_LIMIT_WINDOW_MS
  const lease = Math.max(1, Math.min(100, Math.ceil(max / 20)))
  let currentWindow = -1
  const states = new Map<string, ClientState>()
  const keys = redisKeys(env.QUEUE_PREFIX)
  leaseTokensScript.define(app.redis.producer)

  async function lease_ (clientId: string, window: number, want: number): Promise<{ got: number, count: number }> {
    return await leaseTokensScript.run(app.redis.producer, { counter: keys.rate(clientId, window) }, { want, max, ttlMs: windowMs * 2 })
  }

  return {
    limit: max,
    windowSeconds: Math.ceil(windowMs / 1000),
    /** Takes `n` tokens of the client's window (granting what is left when fewer). Redis away: allowed (the route answers 503 itself if it needs Redis). */
    async take (clientId: string, n = 1): Promise<RateDecision> {
      const now = Date.now()
      const window = Math.floor(now / windowMs)
      const resetSeconds = Math.max(1, Math.ceil(((window + 1) * windowMs - now) / 1000))
      if (window !== currentWindow) {
        states.clear()
        currentWindow = window
      }
      let state = states.get(clientId)
      if (state === undefined) {
        state = { granted: 0, used: 0, count: 0, exhausted: false }
        states.set(clientId, state)
      }
      if (state.granted - state.used < n && !state.exhausted) {
        try {
          const want = Math.max(lease, n - (state.granted - state.used))
          const { got, count } = await lease_(clientId, window, want)
          state.granted += got
          state.count = count
          state.exhausted = got < want
        } catch (err) {
          // Told to the monitor: a timeout here means Redis hangs, and the rest of this request
          // (which checks isReady()) answers 503 at once instead of waiting out timeout after timeout.
          app.redis.monitor.commandFailed(err)
          app.log.debug({ err }, 'rate limit not counted: Redis unavailable')
          return { allowed: n, remaining: max, resetSeconds }
        }
      }
      const allowed = Math.min(n, state.granted - state.used)
      state.used += allowed
      return { allowed, remaining: Math.max(0, max - state.count + (state.granted - state.used)), resetSeconds }
    },

    /** A route's preHandler (after authentication and body validation): one token, or 429 with Retry-After. */
    async limitRequest (request: FastifyRequest): Promise<void> {
      const decision = await this.take(principalOf(request).clientId)
      request.rateState = decision
      if (decision.allowed === 0) throw new HttpProblem('RATE_LIMITED', undefined, { 'retry-after': String(decision.resetSeconds) })
    }
  }
}

async function clientRatePlugin (app: FastifyInstance): Promise<void> {
  app.decorateRequest('rateState', undefined)
  app.decorate('clientRate', createClientRate(app))
}

export default fp(clientRatePlugin, { name: 'client-rate', dependencies: ['config', 'redis'], fastify: '5.x' })
