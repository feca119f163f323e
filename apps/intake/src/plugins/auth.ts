import { createHash, randomUUID } from 'node:crypto'
import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { createSigner, createVerifier } from 'fast-jwt'
import { Value } from '@sinclair/typebox/value'
import { Message, Role, TokenClaims, type UserRecord } from '@request-out/contracts'
import { HttpProblem, unavailable } from '../http-problem.js'
import { UserDirectory } from '../user-directory.js'

export interface Principal {
  clientId: string
  role: Role
  /** Product keys this caller may use; undefined = every enabled product. */
  products: ReadonlySet<string> | undefined
  /** Tickets this caller may submit per window (AUTH_USERS_FILE's Quota), if it has one. */
  quota?: { tickets: number, perSeconds: number }
}

declare module 'fastify' {
  interface FastifyInstance {
    auth: Awaited<ReturnType<typeof createAuth>>
  }
  interface FastifyRequest {
    principal: Principal | undefined
    token: VerifiedToken | undefined
  }
}

// Clocks of the intake and an external token issuer may disagree a little.
export const CLOCK_TOLERANCE_MS = 5000
// A JWT bigger than this is not one of ours; refuse it before parsing.
const MAX_TOKEN_LENGTH = 8192
/** The claim that makes a token a stream token (plugins/stream-tokens.ts): what it may read. */
export const STREAM_SCOPE_CLAIM = 'ro_stream'

/** 401 with the seed's message; why goes to the log line only. */
export const unauthorized = (why: string): HttpProblem => new HttpProblem('UNAUTHORIZED', Message.UNAUTHORIZED, {}, undefined, why)

/** A token's claims once `verify` took it and they have our shape; throws UNAUTHORIZED otherwise. */
export function checkedClaims (verify: (token: string) => unknown, token: string): TokenClaims {
  if (token.length > MAX_TOKEN_LENGTH) throw unauthorized('token too long')
  let claims: unknown
  try {
    claims = verify(token)
  } catch (err) {
    throw unauthorized(err instanceof Error ? err.message : 'token not verified')
  }
  if (!Value.Check(TokenClaims, claims)) throw unauthorized('claims missing or of the wrong type')
  return claims
}

async function createAuth (app: FastifyInstance) {
  const auth = app.config.auth
  const { revocations } = app
  const common = {
    allowedIss: auth.issuer,
    allowedAud: auth.audience,
    clockTolerance: CLOCK_TOLERANCE_MS,
    // fast-jwt keys this cache by a SHA-256 of the token, one hash per request. Keying it by the
    // token itself (#31) made fast-jwt warn at every start that a custom key may collide
    // (GHSA-rp9m-7r4c-75qg), for no gain an A/B could tell from its noise.
    cache: 10_000
  }
  const verify = auth.mode === 'login'
    // Our own tokens always carry an id and an issue time: both are needed to revoke them.
    ? createVerifier({ ...common, key: auth.secret, algorithms: ['HS256'], requiredClaims: ['sub', 'role', 'exp', 'iss', 'aud', 'jti', 'iat'] })
    : createVerifier({ ...common, key: auth.publicKey, algorithms: auth.algorithms, requiredClaims: ['sub', 'role', 'exp', 'iss', 'aud'] })
  const users = auth.mode === 'login'
    ? (auth.usersFile === undefined || auth.users === undefined
        ? UserDirectory.demo()
        : UserDirectory.watching(auth.usersFile, auth.users, app.config.env.AUTH_USERS_POLL_MS, app.log))
    : undefined
  // The bench's cost table (BENCH_INTAKE_OFF): the token's claims say who it is.
  const directory = app.config.benchOff.has('user-directory') ? undefined : users
  const sign = auth.mode === 'login'
    ? createSigner({
      key: auth.secret,
      algorithm: 'HS256',
      iss: auth.issuer,
      aud: auth.audience,
      expiresIn: auth.expiresInSeconds * 1000
    })
    : undefined

  return {
    mode: auth.mode,
    users,
    expiresInSeconds: auth.mode === 'login' ? auth.expiresInSeconds : 0,

    /**
     * Verifies a Bearer token; throws UNAUTHORIZED for anything but a valid, unrevoked token with
     * our claims. In login mode the user directory, not the token, says who the caller is now:
     * a removed user is refused, a changed one gets the directory's role and products.
     */
    verifiedToken (authorization: string | undefined): VerifiedToken {
      const m = authorization === undefined ? null : /^Bearer ([A-Za-z0-9._~+/=-]+)$/i.exec(authorization.trim())
      if (m === null || m[1] === undefined) throw unauthorized('no Bearer token')
      const claims = checkedClaims(verify, m[1])
      // Its own audience keeps a stream token off these routes already; this says why.
      if ((claims as Record<string, unknown>)[STREAM_SCOPE_CLAIM] !== undefined) throw unauthorized('a stream token opens event streams only')
      const tokenId = tokenIdOf(claims, m[1])
      return { claims, tokenId, principal: this.principalFor(claims, tokenId) }
    },

    /**
     * Who a verified token's holder is now, or UNAUTHORIZED: its token or user revoked, or (login
     * mode) its user removed or changed since. Checked on every request, and again for the event
     * streams a token holds open.
     */
    principalFor (claims: TokenClaims, tokenId: string): Principal {
      // Until the revocation list has been read, a revoked token cannot be told from a good one.
      if (!revocations.loaded) throw unavailable()
      if (revocations.isRevoked({ jti: tokenId, sub: claims.sub, iat: claims.iat })) throw new HttpProblem('UNAUTHORIZED', 'This token was revoked', {}, undefined, 'revoked')
      if (directory === undefined) {
        return { clientId: claims.sub, role: claims.role, products: claims.products === undefined ? undefined : new Set(claims.products) }
      }
      const user = directory.get(claims.sub)
      if (user === undefined) throw unauthorized('no such user in AUTH_USERS_FILE')
      // A password change, or a removal and re-creation, ends every token issued before it. The
      // file says when (this intake may see the change only on its next poll); `iat` has whole
      // seconds, so a token of the very second of the change still passes.
      if (user.ChangedAt !== undefined && (claims.iat ?? 0) < Math.floor(Date.parse(user.ChangedAt) / 1000)) {
        throw unauthorized('issued before the user was last changed (password change or re-creation)')
      }
      return {
        clientId: user.Username,
        role: user.Role,
        products: user.Products === undefined ? undefined : new Set(user.Products),
        ...(user.Quota === undefined ? {} : { quota: { tickets: user.Quota.Tickets, perSeconds: user.Quota.PerSeconds } })
      }
    },

    principalFrom (authorization: string | undefined): Principal {
      return this.verifiedToken(authorization).principal
    },

    signFor (user: UserRecord): string {
      if (sign === undefined) throw new Error('login is disabled in external-token mode')
      return sign({ sub: user.Username, role: user.Role, jti: randomUUID(), ...(user.Products === undefined ? {} : { products: user.Products }) })
    },

    close (): void {
      users?.close()
    }
  }
}

export interface VerifiedToken {
  principal: Principal
  claims: TokenClaims
  /** What revokes this one token: its `jti`, or a hash of the token when an external issuer gave none. */
  tokenId: string
}

function tokenIdOf (claims: TokenClaims, token: string): string {
  return claims.jti ?? `sha256:${createHash('sha256').update(token).digest('base64url')}`
}

/** Revokes one verified token for the rest of its lifetime (logout of the API or the dashboard). */
export async function revokeToken (app: FastifyInstance, token: VerifiedToken): Promise<void> {
  await app.revocations.revokeToken(token.tokenId, token.claims.exp * 1000 + CLOCK_TOLERANCE_MS)
}

/** onRequest hook of the protected routes. */
export async function authenticate (this: FastifyInstance, request: FastifyRequest): Promise<void> {
  const token = this.auth.verifiedToken(request.headers.authorization)
  request.principal = token.principal
  request.token = token
}

export function principalOf (request: FastifyRequest): Principal {
  if (request.principal === undefined) throw new HttpProblem('UNAUTHORIZED')
  return request.principal
}

/** preHandler of admin-only routes. */
export async function requireAdmin (request: FastifyRequest): Promise<void> {
  if (principalOf(request).role !== Role.ADMIN) throw new HttpProblem('FORBIDDEN', 'This call needs the admin role')
}

/** The client a call acts for: the caller's own, or (admins only) the one it names. */
export function actingFor (principal: Principal, clientId: string | undefined, what: string): string {
  const refused = mayActFor(principal, clientId, what)
  if (refused !== undefined) throw refused
  return clientId ?? principal.clientId
}

/** Why the principal may not act for `clientId` (only admins act for another client), or undefined. */
export function mayActFor (principal: Principal, clientId: string | undefined, what: string): HttpProblem | undefined {
  if (clientId === undefined || clientId === principal.clientId || principal.role === Role.ADMIN) return undefined
  return new HttpProblem('FORBIDDEN', `Only admins may ${what}`)
}

export function mayUseProduct (principal: Principal, productKey: string): boolean {
  return principal.role === Role.ADMIN || principal.products === undefined || principal.products.has(productKey)
}

async function authPlugin (app: FastifyInstance): Promise<void> {
  const auth = await createAuth(app)
  app.decorate('auth', auth)
  app.decorateRequest('principal', undefined)
  app.decorateRequest('token', undefined)
  app.addHook('onClose', async () => auth.close())
}

export default fp(authPlugin, { name: 'auth', dependencies: ['config', 'revocations'], fastify: '5.x' })
