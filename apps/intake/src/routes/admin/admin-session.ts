import type { FastifyReply, FastifyRequest } from 'fastify'
import type { Principal } from '../../plugins/auth.js'

const SESSION_COOKIE = 'ro_admin_session'
export const LOGIN_PATH = '/admin/login'

/**
 * The session cookie holds an access token (the same JWT the API uses), so sessions need no
 * server-side store and end when the token expires. HttpOnly: scripts never see it;
 * SameSite=Strict: other sites' pages cannot make the browser send it.
 */
export function setSessionCookie (request: FastifyRequest, reply: FastifyReply, token: string, maxAgeSeconds: number): void {
  void reply.setCookie(SESSION_COOKIE, token, {
    path: '/admin',
    httpOnly: true,
    sameSite: 'strict',
    secure: request.protocol === 'https',
    maxAge: maxAgeSeconds
  })
}

export function clearSessionCookie (reply: FastifyReply): void {
  void reply.clearCookie(SESSION_COOKIE, { path: '/admin' })
}

export function sessionToken (request: FastifyRequest): string | undefined {
  const value = request.cookies[SESSION_COOKIE]
  return value === undefined || value === '' ? undefined : value
}

/** The admin of the session, or undefined (no, expired or forged cookie). */
export function sessionPrincipal (request: FastifyRequest): Principal | undefined {
  const token = sessionToken(request)
  if (token === undefined) return undefined
  try {
    return request.server.auth.principalFrom(`Bearer ${token}`)
  } catch {
    return undefined
  }
}

/**
 * Writes from a browser must come from our own pages: browsers send Origin (and Sec-Fetch-Site)
 * on every cross-site POST, PUT and DELETE, so a foreign page is refused here even if SameSite
 * were not honoured.
 */
export function isSameOrigin (request: FastifyRequest): boolean {
  const site = request.headers['sec-fetch-site']
  // Browsers that send Sec-Fetch-Site say it outright ("none": typed or bookmarked by the user).
  if (site !== undefined) return site === 'same-origin' || site === 'none'
  const origin = request.headers.origin
  // No Origin: not a browser's cross-site write (browsers always send it on those).
  if (origin === undefined) return true
  try {
    return new URL(origin).host === request.host
  } catch {
    return false // "null" and other opaque origins
  }
}

/**
 * bull-board's hooks see a request's headers, not the request: the session check writes the
 * operator and their address there, over anything a client sent under these names.
 */
export const OPERATOR_HEADER = 'x-request-out-operator'
export const OPERATOR_ADDRESS_HEADER = 'x-request-out-operator-address'
