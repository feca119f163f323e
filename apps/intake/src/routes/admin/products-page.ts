import type { FastifyPluginAsync } from 'fastify'
import { HttpProblem } from '../../http-problem.js'
import { csrfTokenFor, hasFormToken, sessionPrincipal, sessionToken } from './admin-session.js'
import { escapeHtml, page } from './html.js'

/** Minutes over which the page sums completed and failed jobs (BullMQ keeps per-minute counts). */
const RECENT_MINUTES = 15

interface ProductRow {
  key: string
  name: string
  kind: string
  available: boolean
  reason: string
  updatedBy: string
  counts: Record<string, number>
  recent: { completed: number, failed: number }
}

/** Every catalog product with its availability, queue depth and recent outcomes, and a switch. */
const productsPage: FastifyPluginAsync = async (app) => {
  const { catalog } = app.config

  let metricsReported = false

  async function rows (): Promise<ProductRow[]> {
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
        counts: app.ticketQueues.counts(product.key) ?? {},
        recent: { completed, failed }
      }
    }))
  }

  app.get('/admin/products.json', { schema: { hide: true } }, async () => ({ Products: await rows() }))

  app.get('/admin/products', { schema: { hide: true } }, async (request, reply) => {
    await app.ticketQueues.refreshCounts()
    const csrf = csrfTokenFor(sessionToken(request) ?? '')
    const n = (c: Record<string, number>, k: string): number => c[k] ?? 0
    const body = (await rows()).map((r) => `
      <tr data-key="${escapeHtml(r.key)}">
        <td><a href="/admin/queues/queue/${encodeURIComponent(r.key)}"><strong>${escapeHtml(r.key)}</strong></a><br><small>${escapeHtml(r.name)} (${escapeHtml(r.kind)})</small></td>
        <td class="${r.available ? 'on' : 'off'}" data-field="available">${r.available ? 'available' : 'not available'}
          ${r.reason === '' ? '' : `<br><small>${escapeHtml(r.reason)}</small>`}<br><small>by ${escapeHtml(r.updatedBy)}</small></td>
        <td class="num" data-field="waiting">${n(r.counts, 'waiting') + n(r.counts, 'prioritized')}</td>
        <td class="num" data-field="active">${n(r.counts, 'active')}</td>
        <td class="num" data-field="delayed">${n(r.counts, 'delayed')}</td>
        <td class="num" data-field="failed">${n(r.counts, 'failed')}</td>
        <td class="num" data-field="recent-completed">${r.recent.completed}</td>
        <td class="num" data-field="recent-failed">${r.recent.failed}</td>
        <td><form class="inline" method="post" action="/admin/products/availability">
          <input type="hidden" name="csrf" value="${escapeHtml(csrf)}">
          <input type="hidden" name="Key" value="${escapeHtml(r.key)}">
          <input type="hidden" name="Available" value="${r.available ? 'false' : 'true'}">
          <input name="Reason" placeholder="reason" maxlength="256" aria-label="Reason for ${escapeHtml(r.key)}">
          <button type="submit">${r.available ? 'Switch off' : 'Switch on'}</button>
        </form></td>
      </tr>`).join('')
    return reply.type('text/html; charset=utf-8').send(page('Products', `<main>
      <h1>Products</h1>
      <table><thead><tr><th>Product</th><th>Availability</th><th class="num">Waiting</th><th class="num">Active</th>
        <th class="num">Delayed</th><th class="num">Failed jobs</th><th class="num">Completed, last ${RECENT_MINUTES} min</th>
        <th class="num">Failed, last ${RECENT_MINUTES} min</th><th>Switch</th></tr></thead><tbody>${body}</tbody></table>
      <p><small>Counts refresh every 5 s. Switching a product here is the same as
        <code>PUT /v1/products/…/availability</code>: every intake sees it within 1 s.</small></p>
      <script src="/admin/assets/products.js" defer></script></main>`, { nav: true, csrf }))
  })

  app.post<{ Body: { csrf?: string, Key?: string, Available?: string, Reason?: string } }>('/admin/products/availability', {
    schema: { hide: true }
  }, async (request, reply) => {
    if (!hasFormToken(request)) throw new HttpProblem('FORBIDDEN', 'Missing or wrong form token')
    const body = request.body ?? {}
    const key = String(body.Key ?? '')
    if (catalog.get(key) === undefined) throw new HttpProblem('NOT_FOUND', `No product ${key}`)
    if (body.Available !== 'true' && body.Available !== 'false') throw new HttpProblem('VALIDATION_ERROR', 'Available must be true or false')
    const reason = String(body.Reason ?? '').trim().slice(0, 256)
    const admin = sessionPrincipal(request)?.clientId ?? 'admin'
    await app.availability.set(key, body.Available === 'true', reason === '' ? undefined : reason, admin)
    request.log.info({ product: key, available: body.Available === 'true', admin }, 'product availability switched from the dashboard')
    return reply.redirect('/admin/products', 303)
  })

  // Keeps the counts fresh without reloading the page (and losing a half-typed reason).
  app.get('/admin/assets/products.js', { schema: { hide: true } }, async (_request, reply) => reply
    .type('text/javascript; charset=utf-8')
    .send(`setInterval(async () => {
  const res = await fetch('/admin/products.json', { credentials: 'same-origin' })
  if (!res.ok) return
  for (const p of (await res.json()).Products) {
    const row = document.querySelector('tr[data-key="' + CSS.escape(p.key) + '"]')
    if (!row) continue
    const set = (field, value) => { const cell = row.querySelector('[data-field="' + field + '"]'); if (cell) cell.textContent = String(value) }
    set('waiting', (p.counts.waiting || 0) + (p.counts.prioritized || 0))
    set('active', p.counts.active || 0)
    set('delayed', p.counts.delayed || 0)
    set('failed', p.counts.failed || 0)
    set('recent-completed', p.recent.completed)
    set('recent-failed', p.recent.failed)
  }
}, 5000)
`))
}

export default productsPage
