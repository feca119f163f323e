import { randomUUID } from 'node:crypto'
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { createSigner, createVerifier } from 'fast-jwt'
import type { TokenClaims } from '@request-out/contracts'
import { unavailable } from '../http-problem.js'
import { CLOCK_TOLERANCE_MS, STREAM_SCOPE_CLAIM, checkedClaims, unauthorized, type Principal, type VerifiedToken } from './auth.js'

declare module 'fastify' {
  interface FastifyInstance {
    streamTokens: ReturnType<typeof createStreamTokens>
  }
}

/** What a stream token may read: one client's events, or one of its tickets'. */
interface StreamScope {
  clientId: string
  ticketId?: string | undefined
}

/** A stream token as verified: who holds it now and what it may read. */
export interface VerifiedStreamToken {
  principal: Principal
  scope: StreamScope
  claims: TokenClaims
  tokenId: string
}

/**
 * Read-only tokens for browsers, whose EventSource cannot send an Authorization header: passed as
 * `?stream_token=`, they open the event routes and nothing else. Signed with their own audience
 * (`<JWT_AUDIENCE>:events`), so no other route's verifier takes one, and they carry the
 * `ro_stream` claim: the client whose events they read, and the ticket when they are for one.
 * Revoked with their user, like any token; they live STREAM_TOKEN_TTL_SECONDS, never longer than
 * the token that asked for them.
 */
function createStreamTokens (app: FastifyInstance) {
  const settings = app.config.streamTokens
  const sign = settings === undefined
    ? undefined
    : createSigner({ key: settings.secret, algorithm: 'HS256', iss: settings.issuer, aud: settings.audience })
  const verify = settings === undefined
    ? undefined
    : createVerifier({
      key: settings.secret,
      algorithms: ['HS256'],
      allowedIss: settings.issuer,
      allowedAud: settings.audience,
      clockTolerance: CLOCK_TOLERANCE_MS,
      requiredClaims: ['sub', 'role', 'exp', 'iss', 'aud', 'jti', 'iat', STREAM_SCOPE_CLAIM],
      cache: 10_000
    })

  return {
    /** A stream token for what `scope` names, asked with `token`. */
    issue (token: VerifiedToken, scope: StreamScope): { StreamToken: string, ExpiresIn: number } {
      if (sign === undefined || settings === undefined) throw unavailable('Stream tokens need STREAM_TOKEN_SECRET on this intake (it takes external tokens)')
      const now = Math.floor(Date.now() / 1000)
      const expiresIn = Math.max(1, Math.min(settings.ttlSeconds, token.claims.exp - now))
      const claims = {
        sub: token.claims.sub,
        role: token.claims.role,
        jti: randomUUID(),
        exp: now + expiresIn,
        [STREAM_SCOPE_CLAIM]: scope.ticketId === undefined ? { c: scope.clientId } : { c: scope.clientId, t: scope.ticketId },
        ...(token.claims.products === undefined ? {} : { products: token.claims.products })
      }
      return { StreamToken: sign(claims), ExpiresIn: expiresIn }
    },

    /** Verifies a `?stream_token=`; throws UNAUTHORIZED for anything but a valid, unrevoked stream token. */
    verified (raw: string): VerifiedStreamToken {
      if (verify === undefined) throw unauthorized('stream tokens are off on this intake')
      const claims = checkedClaims(verify, raw)
      const scope = (claims as Record<string, unknown>)[STREAM_SCOPE_CLAIM] as { c?: unknown, t?: unknown } | undefined
      if (typeof scope?.c !== 'string' || (scope.t !== undefined && typeof scope.t !== 'string')) throw unauthorized('stream scope missing')
      const tokenId = claims.jti ?? ''
      return { principal: app.auth.principalFor(claims, tokenId), scope: { clientId: scope.c, ticketId: scope.t as string | undefined }, claims, tokenId }
    }
  }
}

async function streamTokensPlugin (app: FastifyInstance): Promise<void> {
  app.decorate('streamTokens', createStreamTokens(app))
}

export default fp(streamTokensPlugin, { name: 'stream-tokens', dependencies: ['config', 'auth'], fastify: '5.x' })
