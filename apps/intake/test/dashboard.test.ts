import t from 'tap'
import { existsSync, mkdirSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { chromium, type Browser, type Page } from 'playwright-core'
import { TEST_REDIS_URL, WORKSPACE_ROOT, deleteKeys, spawnWorker, startFailingUpstream, uniquePrefix, waitFor, writeCatalog } from '@request-out/test-support'
import { buildApp } from '../src/app.js'
import { loadIntakeConfig } from '../src/config.js'
import { SANDBOX, SEED_TICKET, tokenFor } from './helpers.js'
import { ticketKey } from '@request-out/redis-keys'

const CHROMIUM = '/usr/bin/chromium'
const FLAKY = 'digitalid/verification/flaky'
// A product no worker serves: its tickets stay waiting.
const IDLE = 'digitalid/verification/idle'
const SHOTS = join(WORKSPACE_ROOT, 'test-output', 'dashboard')

if (!existsSync(CHROMIUM)) {
  // Loudly: a skipped browser test must not pass unnoticed.
  console.error(`\n*** BROWSER TEST SKIPPED: ${CHROMIUM} is missing (apt-get install chromium). The dashboard was NOT tested in a browser. ***\n`)
}

t.test('the operator dashboard in a real browser', { skip: existsSync(CHROMIUM) ? false : `BROWSER TEST SKIPPED: ${CHROMIUM} is missing` }, async (t) => {
  mkdirSync(SHOTS, { recursive: true })
  // A product whose upstream fails until we say so: its ticket fails, then an operator retries it.
  const upstream = await startFailingUpstream(t)
  const catalogFile = writeCatalog([
    { Subject: 'digitalid', SubjectType: 'enrollment', SubjectIdentifier: 'ektp', Name: 'e-KTP sandbox', Kind: 'sandbox' },
    {
      Subject: 'digitalid',
      SubjectType: 'verification',
      SubjectIdentifier: 'flaky',
      Name: 'Flaky verification',
      Kind: 'http',
      Attempts: 1,
      TimeoutMs: 2000,
      Http: { Url: upstream.url }
    },
    { Subject: 'digitalid', SubjectType: 'verification', SubjectIdentifier: 'idle', Name: 'Nobody serves this', Kind: 'sandbox' }
  ])

  const prefix = uniquePrefix('dash')
  const env = { REDIS_URL: TEST_REDIS_URL, QUEUE_PREFIX: prefix, PRODUCTS_FILE: catalogFile, LOG_LEVEL: 'warn' }
  const app = await buildApp(loadIntakeConfig({ ...env, LOG_LEVEL: 'silent' }), { logger: false })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
  const worker = await spawnWorker({ ...env, LOG_LEVEL: 'info', WORKER_PRODUCTS: `${SANDBOX},${FLAKY}` })
  let browser: Browser | undefined
  t.teardown(async () => {
    await browser?.close()
    await worker.stop()
    await app.close()
    await deleteKeys(prefix)
  })

  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']
  })
  const newPage = async (): Promise<Page> => {
    const context = await browser!.newContext()
    // Loopback only: anything else the pages ask for is refused before it leaves the browser.
    await context.route((url) => !['127.0.0.1', 'localhost'].includes(url.hostname), async (route) => route.abort())
    return context.newPage()
  }
  const page = await newPage()
  const shot = async (name: string): Promise<void> => { await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true }) }
  const client = tokenFor('demo-client')
  const api = async (method: string, path: string, body?: unknown): Promise<{ status: number, json: Record<string, unknown> }> => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${client}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) })
    })
    return { status: res.status, json: await res.json() as Record<string, unknown> }
  }

  // Anonymous: sent to the login page.
  await page.goto(`${base}/admin/queues`)
  t.match(page.url(), /\/admin\/login$/, 'anonymous → login page')
  await shot('login')
  await page.fill('input[name=Username]', 'demo-admin')
  await page.fill('input[name=Password]', 'demo-admin-secret')
  await page.click('button[type=submit]')
  await page.waitForURL(/\/admin\/queues/, { waitUntil: 'domcontentloaded' })
  await page.getByText(SANDBOX).first().waitFor()
  await page.getByText(FLAKY).first().waitFor()
  t.pass('bull-board lists both product queues')
  const cookies = await page.context().cookies()
  t.match(cookies.find((c) => c.name === 'ro_admin_session'), { httpOnly: true, sameSite: 'Strict', path: '/admin' }, 'HttpOnly, SameSite=Strict session cookie')
  await shot('queues')

  // A ticket whose product fails: its job lands in the failed set, the ticket answers 502.
  const ticket = { ...SEED_TICKET, SubjectType: 'verification', SubjectIdentifier: 'flaky', TicketId: 'retry-me' }
  t.equal((await api('POST', '/v1/request-out', ticket)).status, 202)
  await waitFor('the ticket to fail', async () => (await api('GET', '/v1/request-out/retry-me')).status === 502, 20_000, 100)
  upstream.heal()

  // Retry it from the UI.
  await page.goto(`${base}/admin/queues/queue/${encodeURIComponent(FLAKY)}?status=failed`)
  await page.getByText('retry-me').first().waitFor()
  await shot('failed-job')
  // The job card's actions are icon buttons whose names only show as a tooltip on hover.
  // Mark the buttons of the card that shows our job: the nearest ancestor of its id with buttons.
  await page.evaluate(() => {
    let node: Element | null = [...document.querySelectorAll('*')].find((e) => e.children.length === 0 && (e.textContent ?? '').includes('retry-me')) ?? null
    while (node !== null && node.querySelectorAll('button').length === 0) node = node.parentElement
    node?.querySelectorAll('button').forEach((b) => b.setAttribute('data-job-action', ''))
  })
  // bull-board 9.10.1 lists a failed job's actions as icons: retry, duplicate, edit data, clean.
  // Their names are tooltips only, so the first one is taken; the record below proves it was Retry.
  await page.locator('button[data-job-action]').first().click()
  const confirm = page.getByRole('button', { name: /^(Confirm|Yes|Retry|OK)$/ }).last()
  if (await confirm.isVisible().catch(() => false)) await confirm.click()
  await waitFor('the retried ticket to complete', async () => (await api('GET', '/v1/request-out/retry-me')).status === 200, 20_000, 100)
  t.match((await api('GET', '/v1/request-out/retry-me')).json, { ResourceId: 'retried-1', StatusCode: 200 }, 'retried from the UI: the ticket has its record')
  await page.goto(`${base}/admin/queues/queue/${encodeURIComponent(FLAKY)}?status=completed`)
  await page.getByText('retry-me').first().waitFor()
  await shot('retried-job')

  // Actions that would corrupt or strand a ticket are refused by the dashboard itself (bull-board's
  // API, called with this browser's session as its buttons do).
  const board = async (method: 'put' | 'post' | 'patch', path: string, data?: unknown): Promise<{ status: number, message: string }> => {
    const res = await page.request.fetch(`${base}/admin/queues/api/queues/${path}`, { method, ...(data === undefined ? {} : { data }) })
    return { status: res.status(), message: String(((await res.json().catch(() => ({}))) as { message?: unknown }).message ?? '') }
  }
  const q = encodeURIComponent
  const retriedJob = ticketKey('demo-client', 'retry-me')
  t.match(await board('patch', `${q(FLAKY)}/${q(retriedJob)}/update-data`, { Data: '[redacted]' }), { status: 403, message: /not editable/ }, 'job data cannot be edited')
  t.match(await board('post', `${q(SANDBOX)}/add`, { name: 'ticket', data: { TicketId: 'by-hand' } }), { status: 403, message: /POST \/v1\/request-out/ }, 'jobs cannot be added by hand')
  t.match(await board('put', `${q(SANDBOX)}/pause`), { status: 403, message: /Products page/ }, "Pause defers to the product's one switch")

  t.equal((await api('POST', '/v1/request-out', { ...SEED_TICKET, SubjectType: 'verification', SubjectIdentifier: 'idle', TicketId: 'stranded' })).status, 202)
  const waitingJob = ticketKey('demo-client', 'stranded')
  t.match(await board('put', `${q(IDLE)}/${q(waitingJob)}/clean`), { status: 409, message: /no final record/ }, 'a waiting job cannot be deleted')
  t.match(await board('put', `${q(IDLE)}/clean/waiting`), { status: 403 }, 'waiting jobs cannot be cleaned')
  t.match(await board('put', `${q(IDLE)}/empty`), { status: 403 }, 'a queue cannot be emptied')
  t.match((await api('GET', '/v1/request-out/stranded')).json, { Code: 'IN_PROCESS' }, 'the ticket is still in process, its job still queued')
  t.ok(await app.ticketQueues.queueFor(IDLE)?.getJob(waitingJob), 'the job is still there')

  t.equal((await api('POST', '/v1/request-out', { ...SEED_TICKET, TicketId: 'bad-nik', Data: { NIK: '3201013208900001' } })).status, 202)
  await waitFor('the product to reject the ticket', async () => (await api('GET', '/v1/request-out/bad-nik')).status === 422, 20_000, 100)
  t.match(await board('put', `${q(SANDBOX)}/${q(ticketKey('demo-client', 'bad-nik'))}/retry`), { status: 409, message: /PRODUCT_REJECTED/ }, 'a rejected ticket is not retried')
  t.match(await board('put', `${q(SANDBOX)}/retry/failed`), { status: 403 }, 'nor all failed jobs at once')
  t.equal((await api('GET', '/v1/request-out/bad-nik')).status, 422, 'the ticket keeps its 422')

  // bull-board links back to our pages.
  // Defects #25.20: no request for a third party's web font (the CSP refused it: a console error on every page).
  const thirdParty: string[] = []
  page.on('request', (r) => { if (!['127.0.0.1', 'localhost'].includes(new URL(r.url()).hostname)) thirdParty.push(r.url()) })
  const consoleErrors: string[] = []
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()) })
  await page.goto(`${base}/admin/queues`)
  await page.locator('header').waitFor()
  t.same(thirdParty, [], 'bull-board\'s page asks nothing of other hosts')
  t.same(consoleErrors.filter((e) => /Content Security Policy|fonts\.googleapis/.test(e)), [], 'and the CSP refuses nothing on it')
  // bull-board shows a queue's description as its card's info tip, from its API.
  const listed = await (await page.request.get(`${base}/admin/queues/api/queues`)).json() as { queues: Array<{ description?: string }> }
  t.ok(listed.queues.length > 0 && listed.queues.every((queue) => queue.description?.includes("find a client's ticket on the Tickets page (/admin/tickets)") === true),
    'each queue says that waiting tickets show as prioritized, and where a client\'s ticket is found')
  // bull-board shows its misc links in the header's last menu.
  await page.locator('header ul li').last().locator('button, a').first().click()
  const menuLink = (name: string) => page.locator('a', { hasText: name }).last()
  await menuLink('Log out').waitFor()
  await shot('queues-menu')
  t.equal(await menuLink('Products').getAttribute('href'), '/admin/products', 'bull-board links to Products')
  t.equal(await menuLink('Webhooks').getAttribute('href'), '/admin/webhooks', 'and to Webhooks')
  t.equal(await menuLink('Log out').getAttribute('href'), '/admin/logout', 'and to Log out')

  // The products page: switch the sandbox off and on again.
  await page.goto(`${base}/admin/products`)
  t.equal(await page.locator(`tr[data-key="${FLAKY}"] a`).first().getAttribute('href'), `/admin/queues/queue/${q(FLAKY)}`, 'a product row links to its queue')
  const row = page.locator(`tr[data-key="${SANDBOX}"]`)
  await row.waitFor()
  const flakyCell = async (field: string): Promise<string | null> => page.locator(`tr[data-key="${FLAKY}"] [data-field="${field}"]`).textContent()
  t.equal(await flakyCell('recent-completed'), '1', 'the products page counts the retried job as completed')
  t.equal(await flakyCell('recent-failed'), '1', 'and its first failure')
  await shot('products')
  await row.locator('input[name=Reason]').fill('maintenance window')
  await row.getByRole('button', { name: 'Switch off' }).click()
  await page.waitForURL(/\/admin\/products$/)
  await page.locator(`tr[data-key="${SANDBOX}"] td.off`).waitFor()
  await shot('products-switched-off')
  t.match((await api('POST', '/v1/request-out', { ...SEED_TICKET, TicketId: 'while-off' })).json, { Code: 'PRODUCT_NOT_AVAILABLE', StatusCode: 404 }, 'switched off: POST answers PRODUCT_NOT_AVAILABLE')
  await page.locator(`tr[data-key="${SANDBOX}"]`).getByRole('button', { name: 'Switch on' }).click()
  await page.locator(`tr[data-key="${SANDBOX}"] td.on`).waitFor()
  t.equal((await api('POST', '/v1/request-out', { ...SEED_TICKET, TicketId: 'while-on' })).status, 202, 'switched on again: accepted')

  // Writes without the form token, or from another origin, are refused.
  const session = cookies.find((c) => c.name === 'ro_admin_session')?.value ?? ''
  const forged = async (headers: Record<string, string>, body: string): Promise<number> => (await fetch(`${base}/admin/products/availability`, {
    method: 'POST', redirect: 'manual', headers: { cookie: `ro_admin_session=${session}`, 'content-type': 'application/x-www-form-urlencoded', ...headers }, body
  })).status
  t.equal(await forged({}, `Key=${encodeURIComponent(SANDBOX)}&Available=false`), 403, 'no form token: 403')
  t.equal(await forged({ origin: 'http://evil.example' }, `Key=${encodeURIComponent(SANDBOX)}&Available=false`), 403, 'cross-site origin: 403')
  const bullBoardWrite = await fetch(`${base}/admin/queues/api/queues/${encodeURIComponent(FLAKY)}/pause`, {
    method: 'PUT', headers: { cookie: `ro_admin_session=${session}`, origin: 'http://evil.example' }
  })
  t.equal(bullBoardWrite.status, 403, 'a cross-site bull-board action: 403')
  t.ok(app.availability.isAvailable(SANDBOX), 'the product stayed available')

  // Log out.
  await page.getByRole('button', { name: 'Log out' }).click()
  await page.waitForURL(/\/admin\/login$/)
  await page.goto(`${base}/admin/queues`)
  t.match(page.url(), /\/admin\/login$/, 'logged out: back to the login page')

  // A client-role user is refused, at the login and with a client token as session.
  const clientPage = await newPage()
  await clientPage.goto(`${base}/admin/login`)
  await clientPage.fill('input[name=Username]', 'demo-client')
  await clientPage.fill('input[name=Password]', 'demo-client-secret')
  const refused = await Promise.all([clientPage.waitForResponse((r) => r.url().endsWith('/admin/login') && r.request().method() === 'POST'), clientPage.click('button[type=submit]')])
  t.equal(refused[0].status(), 403, 'client-role login: 403')
  // Screenshot only once the refusal page has rendered (a capture mid-navigation fails).
  await clientPage.getByRole('alert').waitFor()
  await clientPage.screenshot({ path: join(SHOTS, 'client-refused.png') })
  const asClient = await fetch(`${base}/admin/queues`, { headers: { cookie: `ro_admin_session=${client}`, accept: 'text/html' }, redirect: 'manual' })
  t.equal(asClient.status, 403, 'a client session: 403')
  const anonymousApi = await fetch(`${base}/admin/queues/api/queues`, { redirect: 'manual' })
  t.equal(anonymousApi.status, 401, 'anonymous bull-board API: 401')
  const headers = (await fetch(`${base}/admin/login`)).headers
  t.ok(headers.get('content-security-policy'), 'helmet: Content-Security-Policy')
  t.equal(headers.get('x-frame-options'), 'SAMEORIGIN', 'helmet: X-Frame-Options')
})
