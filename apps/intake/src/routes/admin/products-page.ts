import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { AdminAvailabilityForm, type BreakerView } from '@request-out/contracts'
import { HttpProblem } from '../../http-problem.js'
import { sessionPrincipal } from './admin-session.js'

/** Minutes over which the page sums completed and failed jobs (BullMQ keeps per-minute counts). */
const RECENT_MINUTES = 15

interface ProductRow {
  key: string
  name: string
  kind: string
  available: boolean
  reason: string
  updatedBy: string
  /** Tickets that ended PRODUCT_FAILED in the last hour and day (history only), and their search. */
  deadLetters: { lastHour: number, lastDay: number, search: string } | null
  /** The upstream breaker (null: turned off in the catalog). */
  breaker: BreakerView | null
  counts: Record<string, number>
  recent: { completed: number, failed: number }
}

/** Every catalog product with its availability, queue depth and recent outcomes, and a switch. */
const productsPage: FastifyPluginAsyncTypebox = async (app) => {
  const { catalog } = app.config

  let metricsReported = false

  async function rows (): Promise<ProductRow[]> {
    const dead = await app.ticketHistory.deadLetters()
    const dayAgo = new Date(Date.now() - 86_400_000).toISOString()
    return Promise.all(catalog.list().map(async (product) => {
      const queue = app.ticketQueues.queueFor(product.key)
      const availability = app.availability.get(product.key)
      const recentOf = async (type: 'completed' | 'failed'): Promise<number> => {
        try {
          // BullMQ keeps one data point per finished minute; the running minute is count - prevCount.
          const m = await queue?.getMetrics(type, 0, RECENT_MINUTES - 2)
          if (m === undefined) return 0
          const current = Math.max(0, Number(m.meta.count) - Number(m.meta.prevCount ?? 0))
          return current + m.data.reduce((a, b) => a + b, 0)
        } catch (err) {
          // Shown as 0 on the page; said once in the log, so a 0 is not mistaken for "no traffic".
          if (!metricsReported) app.log.warn({ err, product: product.key }, 'cannot read recent job counts for the products page')
          metricsReported = true
          return 0
        }
      }
      const [completed, failed] = await Promise.all([recentOf('completed'), recentOf('failed')])
      return {
        key: product.key,
        name: product.name,
        kind: product.kind,
        available: availability.Available,
        reason: availability.Reason ?? '',
        updatedBy: availability.UpdatedBy,
        breaker: app.breakers.view(product.key),
        deadLetters: dead === undefined
          ? null
          : { ...(dead.get(product.key) ?? { lastHour: 0, lastDay: 0 }), search: `/admin/tickets?${new URLSearchParams({ Product: product.key, Code: 'PRODUCT_FAILED', From: dayAgo }).toString()}` },
        counts: app.ticketQueues.counts(product.key) ?? {},
        recent: { completed, failed }
      }
    }))
  }

  app.get('/admin/products.json', { schema: { hide: true } }, async () => ({ Products: await rows() }))

  app.get('/admin/products', { schema: { hide: true } }, async (_request, reply) => {
    await app.ticketQueues.refreshCounts()
    return reply.view('products.eta', { rows: await rows(), recentMinutes: RECENT_MINUTES, csrf: reply.generateCsrf() })
  })

  app.post('/admin/products/availability', {
    schema: { hide: true, body: AdminAvailabilityForm },
    preHandler: app.csrfProtection
  }, async (request, reply) => {
    const { Key: key, Available, Reason } = request.body
    if (catalog.get(key) === undefined) throw new HttpProblem('NOT_FOUND', `No product ${key}`)
    const reason = (Reason ?? '').trim()
    const admin = sessionPrincipal(request)?.clientId ?? 'admin'
    await app.operatorActions.setAvailability({ actor: admin, address: request.ip }, key, Available === 'true', reason === '' ? undefined : reason)
    request.log.info({ product: key, available: Available === 'true', admin }, 'product availability switched from the dashboard')
    return reply.redirect('/admin/products', 303)
  })
}

export default productsPage
