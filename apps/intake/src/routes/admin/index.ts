import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import cookie from '@fastify/cookie'
import formbody from '@fastify/formbody'
import helmet from '@fastify/helmet'
import { Role } from '@request-out/contracts'
import { HttpProblem } from '../../http-problem.js'
import { LOGIN_PATH, isSameOrigin, sessionPrincipal } from './admin-session.js'
import { page } from './html.js'
import loginPage from './login-page.js'
import productsPage from './products-page.js'
import queuesDashboard from './queues-dashboard.js'

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])

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
      return reply.code(403).type('text/html; charset=utf-8').send(page('Forbidden', '<main><h1>Forbidden</h1><p>The dashboard is for admins only.</p></main>'))
    }
    throw new HttpProblem('FORBIDDEN', 'The dashboard is for admins only')
  }
  // Our own forms also carry the session's form token (checked by their routes); bull-board's
  // calls are same-origin XHR, which this covers.
  if (!SAFE_METHODS.has(request.method) && !isSameOrigin(request)) throw new HttpProblem('FORBIDDEN', 'Cross-site request refused')
  return undefined
}

/**
 * The operator pages under /admin: login (public), bull-board and the products page (admin
 * session). One encapsulated context, so cookies, form bodies and helmet stay out of the API.
 */
const adminRoutes: FastifyPluginAsync = async (app) => {
  await app.register(cookie)
  await app.register(formbody)
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
  })
  app.get('/admin', { schema: { hide: true } }, async (_request, reply) => reply.redirect('/admin/queues', 302))
}

export default adminRoutes
