import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { createSigner, createVerifier } from 'fast-jwt'
import { Value } from '@sinclair/typebox/value'
import { Role, TokenClaims, type UserRecord } from '@request-out/contracts'
import { HttpProblem } from '../http-problem.js'
import { UserDirectory } from '../user-directory.js'

export interface Principal {
  clientId: string
  role: Role
  /** Product keys this caller may use; undefined = every enabled product. */
  products: ReadonlySet<string> | undefined
}

declare module 'fastify' {
  interface FastifyInstance {
    auth: Awaited<ReturnType<typeof createAuth>>
  }
  interface FastifyRequest {
    principal: Principal | undefined
  }
}

// Clocks of the intake and an external token issuer may disagree a little.
const CLOCK_TOLERANCE_MS = 5000
// A JWT bigger than this is not one of ours; refuse it before parsing.
const MAX_TOKEN_LENGTH = 8192

async function createAuth (app: FastifyInstance) {
  const auth = app.config.auth
  const verify = auth.mode === 'login'
    ? createVerifier({
      key: auth.secret,
      algorithms: ['HS256'],
      allowedIss: auth.issuer,
      allowedAud: auth.audience,
      requiredClaims: ['sub', 'role', 'exp', 'iss', 'aud'],
      clockTolerance: CLOCK_TOLERANCE_MS,
      cache: 10_000
    })
    : createVerifier({
      key: auth.publicKey,
      algorithms: auth.algorithms,
      allowedIss: auth.issuer,
      allowedAud: auth.audience,
      requiredClaims: ['sub', 'role', 'exp', 'iss', 'aud'],
      clockTolerance: CLOCK_TOLERANCE_MS,
      cache: 10_000
    })
  const users = auth.mode === 'login' ? await UserDirectory.create(auth.users) : undefined
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

    /** Verifies a Bearer token; throws UNAUTHORIZED for anything but a valid token with our claims. */
    principalFrom (authorization: string | undefined): Principal {
      const m = authorization === undefined ? null : /^Bearer ([A-Za-z0-9._~+/=-]+)$/i.exec(authorization.trim())
      if (m === null || m[1] === undefined || m[1].length > MAX_TOKEN_LENGTH) throw new HttpProblem('UNAUTHORIZED')
      let claims: unknown
      try {
        claims = verify(m[1])
      } catch {
        throw new HttpProblem('UNAUTHORIZED')
      }
      if (!Value.Check(TokenClaims, claims)) throw new HttpProblem('UNAUTHORIZED')
      return {
        clientId: claims.sub,
        role: claims.role,
        products: claims.products === undefined ? undefined : new Set(claims.products)
      }
    },

    signFor (user: UserRecord): string {
      if (sign === undefined) throw new Error('login is disabled in external-token mode')
      return sign({ sub: user.Username, role: user.Role, ...(user.Products === undefined ? {} : { products: user.Products }) })
    }
  }
}

/** onRequest hook of the protected routes. */
export async function authenticate (this: FastifyInstance, request: FastifyRequest): Promise<void> {
  request.principal = this.auth.principalFrom(request.headers.authorization)
}

export function principalOf (request: FastifyRequest): Principal {
  if (request.principal === undefined) throw new HttpProblem('UNAUTHORIZED')
  return request.principal
}

/** preHandler of admin-only routes. */
export async function requireAdmin (request: FastifyRequest): Promise<void> {
  if (principalOf(request).role !== Role.ADMIN) throw new HttpProblem('FORBIDDEN', 'This call needs the admin role')
}

export function mayUseProduct (principal: Principal, productKey: string): boolean {
  return principal.role === Role.ADMIN || principal.products === undefined || principal.products.has(productKey)
}

async function authPlugin (app: FastifyInstance): Promise<void> {
  app.decorate('auth', await createAuth(app))
  app.decorateRequest('principal', undefined)
}

export default fp(authPlugin, { name: 'auth', dependencies: ['config'], fastify: '5.x' })
