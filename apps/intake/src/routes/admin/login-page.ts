import type { FastifyPluginAsync, FastifyReply } from 'fastify'
import { Role } from '@request-out/contracts'
import { HttpProblem } from '../../http-problem.js'
import { revokeToken } from '../../plugins/auth.js'
import { clearSessionCookie, csrfTokenFor, hasFormToken, isSameOrigin, sessionToken, setSessionCookie } from './admin-session.js'
import { escapeHtml, page } from './html.js'

interface LoginForm { Username?: string, Password?: string, AccessToken?: string }

/** The dashboard's public pages: log in (same users as /v1/auth/login, admin role) and log out. */
const loginPage: FastifyPluginAsync = async (app) => {
  const { auth } = app
  const withPassword = auth.mode === 'login'

  const form = (reply: FastifyReply, status: number, error?: string): FastifyReply => {
    const fields = withPassword
      ? `<label for="u">Username</label><input id="u" name="Username" autocomplete="username" required>
         <label for="p">Password</label><input id="p" name="Password" type="password" autocomplete="current-password" required>`
      : '<label for="t">Admin access token</label><input id="t" name="AccessToken" type="password" required>'
    return reply.code(status).type('text/html; charset=utf-8').send(page('Log in', `
      <form class="box" method="post" action="/admin/login">
        <h1>Request Out</h1><p>Operator dashboard: admins only.</p>
        ${error === undefined ? '' : `<p class="error" role="alert">${escapeHtml(error)}</p>`}
        ${fields}
        <p><button type="submit">Log in</button></p>
      </form>`))
  }

  app.get('/admin/login', { schema: { hide: true } }, async (_request, reply) => form(reply, 200))

  app.post<{ Body: LoginForm }>('/admin/login', { schema: { hide: true } }, async (request, reply) => {
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
    return reply.type('text/html; charset=utf-8').send(page('Log out', `
      <form class="box" method="post" action="/admin/logout">
        <h1>Log out?</h1><p>This ends the dashboard session on every intake.</p>
        <input type="hidden" name="csrf" value="${escapeHtml(csrfTokenFor(token))}">
        <p><button type="submit">Log out</button> <a href="/admin/queues">Back to the queues</a></p>
      </form>`))
  })

  app.post('/admin/logout', { schema: { hide: true } }, async (request, reply) => {
    if (!isSameOrigin(request) || (sessionToken(request) !== undefined && !hasFormToken(request))) {
      throw new HttpProblem('FORBIDDEN', 'Cross-site request refused')
    }
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
