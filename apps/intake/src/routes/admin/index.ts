import { fileURLToPath } from 'node:url'
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import cookie from '@fastify/cookie'
import csrfProtection from '@fastify/csrf-protection'
import formbody from '@fastify/formbody'
import helmet from '@fastify/helmet'
import fastifyStatic from '@fastify/static'
import view from '@fastify/view'
import { Eta } from 'eta'
import { Role } from '@request-out/contracts'
import { HttpProblem } from '../../http-problem.js'
import { LOGIN_PATH, OPERATOR_ADDRESS_HEADER, OPERATOR_HEADER, isSameOrigin, sessionPrincipal } from './admin-session.js'
import loginPage from './login-page.js'
import productsPage from './products-page.js'
import historyPages from './history-pages.js'
import redrivePages from './redrive-pages.js'
import webhooksPage from './webhooks-page.js'
import queuesDashboard from './queues-dashboard.js'

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])
// Beside src and dist alike, so one path serves either.
const VIEWS = fileURLToPath(new URL('../../../views', import.meta.url))
const templates = new Eta({ views: VIEWS })

/** Session check of every protected admin route: anonymous → login page, client role → 403, cross-site write → 403. */
async function requireAdminSession (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
  const principal = sessionPrincipal(request)
  const wantsHtml = SAFE_METHODS.has(request.method) && (request.headers.accept ?? '').includes('text/html')
  if (principal === undefined) {
    if (wantsHtml) return reply.redirect(`${LOGIN_PATH}`, 302)
    throw new HttpProblem('UNAUTHORIZED', 'Log in at /admin/login')
  }
  if (principal.role !== Role.ADMIN) {
    if (wantsHtml) {
      // Rendered with our own engine: inside bull-board's context `reply.view` is bull-board's.
      return reply.code(403).type('text/html; charset=utf-8').send(templates.render('./forbidden.eta', {}))
    }
    throw new HttpProblem('FORBIDDEN', 'The dashboard is for admins only')
  }
  // Our own forms also carry the session's form token (checked by their routes); bull-board's
  // calls are same-origin XHR, which this covers.
  if (!SAFE_METHODS.has(request.method) && !isSameOrigin(request)) throw new HttpProblem('FORBIDDEN', 'Cross-site request refused')
  request.headers[OPERATOR_HEADER] = principal.clientId
  request.headers[OPERATOR_ADDRESS_HEADER] = request.ip
  return undefined
}

/**
 * The operator pages under /admin: login (public), bull-board and the products page (admin
 * session). One encapsulated context, so cookies, form bodies and helmet stay out of the API.
 */
const adminRoutes: FastifyPluginAsync = async (app) => {
  await app.register(cookie)
  await app.register(formbody)
  // Pages are eta templates (escaped by default) in apps/intake/views; their assets are files in
  // apps/intake/public. Both folders sit beside src and dist, so one path serves either.
  await app.register(view, { engine: { eta: templates }, root: VIEWS })
  await app.register(fastifyStatic, { root: fileURLToPath(new URL('../../../public', import.meta.url)), prefix: '/admin/assets/', decorateReply: false })
  // Form tokens: an HMAC under a per-browser secret kept in an HttpOnly cookie, so they work on
  // every intake behind a load balancer. Forms name the field `csrf`.
  await app.register(csrfProtection, {
    cookieOpts: { path: '/admin', sameSite: 'strict', httpOnly: true },
    getToken: (request) => (request.body as { csrf?: string } | undefined)?.csrf
  })
  await app.register(helmet, {
    // Browsers then send our Origin on same-site form posts (no-referrer would make it "null").
    referrerPolicy: { policy: 'same-origin' },
    contentSecurityPolicy: {
      directives: {
        // bull-board's page asks for Google Fonts; operators' browsers should not call out to third
        // parties from an admin page, so only our own styles and fonts load (system fonts are used).
        styleSrc: ["'self'", "'unsafe-inline'"],
        fontSrc: ["'self'", 'data:'],
        // Served over plain HTTP on loopback in development: do not force https sub-requests.
        upgradeInsecureRequests: null
      }
    }
  })
  await app.register(loginPage)
  await app.register(async (protectedAdmin) => {
    protectedAdmin.addHook('preHandler', requireAdminSession)
    await protectedAdmin.register(queuesDashboard)
    await protectedAdmin.register(productsPage)
    await protectedAdmin.register(historyPages)
    await protectedAdmin.register(redrivePages)
    await protectedAdmin.register(webhooksPage)
  })
  app.get('/admin', { schema: { hide: true } }, async (_request, reply) => reply.redirect('/admin/queues', 302))
}

export default adminRoutes
