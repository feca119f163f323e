import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply } from 'fastify'
import { AdminLoginForm, AdminLogoutForm, Role } from '@request-out/contracts'
import { HttpProblem } from '../../http-problem.js'
import { revokeToken } from '../../plugins/auth.js'
import { clearSessionCookie, isSameOrigin, sessionToken, setSessionCookie } from './admin-session.js'

/** The dashboard's public pages: log in (same users as /v1/auth/login, admin role) and log out. */
const loginPage: FastifyPluginAsyncTypebox = async (app) => {
  const { auth } = app
  const withPassword = auth.mode === 'login'

  const form = async (reply: FastifyReply, status: number, error?: string): Promise<FastifyReply> =>
    reply.code(status).view('login.eta', { withPassword, error })

  app.get('/admin/login', { schema: { hide: true } }, async (_request, reply) => form(reply, 200))

  app.post('/admin/login', { schema: { hide: true, body: AdminLoginForm } }, async (request, reply) => {
    if (!isSameOrigin(request)) throw new HttpProblem('FORBIDDEN', 'Cross-site request refused')
    const body = request.body ?? {}
    let token: string | undefined
    let role: string | undefined
    if (withPassword && auth.users !== undefined) {
      let user
      try {
        // The same limits as /v1/auth/login, counted together with it.
        user = await app.loginGuard.authenticate(auth.users, String(body.Username ?? ''), String(body.Password ?? ''), request.ip)
      } catch (err) {
        if (!(err instanceof HttpProblem) || (err.code !== 'RATE_LIMITED' && err.code !== 'UNAVAILABLE')) throw err
        for (const [k, v] of Object.entries(err.headers)) void reply.header(k, v)
        return form(reply, err.statusCode, `${err.message}.`)
      }
      if (user !== undefined) {
        token = auth.signFor(user)
        role = user.Role
      }
    } else if (typeof body.AccessToken === 'string') {
      try {
        role = auth.principalFrom(`Bearer ${body.AccessToken}`).role
        token = body.AccessToken
      } catch { token = undefined }
    }
    if (token === undefined) return form(reply, 401, 'Wrong username or password.')
    if (role !== Role.ADMIN) return form(reply, 403, 'This user is not an admin.')
    setSessionCookie(request, reply, token, auth.expiresInSeconds > 0 ? auth.expiresInSeconds : 3600)
    request.log.info({ admin: body.Username ?? '(token)' }, 'admin logged in to the dashboard')
    return reply.redirect('/admin/queues', 303)
  })

  // bull-board's menu can only link: this page holds the form (with its form token) that logs out.
  app.get('/admin/logout', { schema: { hide: true } }, async (request, reply) => {
    const token = sessionToken(request)
    if (token === undefined) return reply.redirect('/admin/login', 302)
    return reply.view('logout.eta', { csrf: reply.generateCsrf() })
  })

  app.post('/admin/logout', {
    schema: { hide: true, body: AdminLogoutForm },
    // A session's logout needs the form token; without a session there is nothing to protect.
    preHandler: async (request, reply) => {
      if (!isSameOrigin(request)) throw new HttpProblem('FORBIDDEN', 'Cross-site request refused')
      if (sessionToken(request) !== undefined) {
        await new Promise<void>((resolve, reject) => {
          app.csrfProtection(request, reply, (err?: Error) => { if (err === undefined) resolve(); else reject(err) })
        })
      }
    }
  }, async (request, reply) => {
    // The cookie holds an access token: clearing it in this browser is not enough, the token itself
    // must stop working (a copy of the cookie would otherwise still open the dashboard).
    const token = sessionToken(request)
    if (token !== undefined) {
      try {
        await revokeToken(app, auth.verifiedToken(`Bearer ${token}`))
      } catch (err) {
        if (!(err instanceof HttpProblem) || err.code !== 'UNAUTHORIZED') throw err
      }
    }
    clearSessionCookie(reply)
    return reply.redirect('/admin/login', 303)
  })
}

export default loginPage
