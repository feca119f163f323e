import t from 'tap'
import { existsSync, mkdirSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { chromium, type Browser } from 'playwright-core'
import {
  TEST_REDIS_URL, WORKSPACE_ROOT, createTestDatabase, deleteKeys, spawnWorker, startFailingUpstream, uniquePrefix, waitFor, writeCatalog
} from '@request-out/test-support'
import { buildApp } from '../src/app.js'
import { loadIntakeConfig } from '../src/config.js'
import { SEED_TICKET, tokenFor } from './helpers.js'

const CHROMIUM = '/usr/bin/chromium'
const SHOTS = join(WORKSPACE_ROOT, 'test-output', 'history')

t.test('the ticket history pages in a real browser: search, a ticket, retry, erasure, the audit trail', { skip: existsSync(CHROMIUM) ? false : `BROWSER TEST SKIPPED: ${CHROMIUM} is missing` }, async (t) => {
  mkdirSync(SHOTS, { recursive: true })
  const upstream = await startFailingUpstream(t)
  const catalogFile = writeCatalog([
    { Subject: 'digitalid', SubjectType: 'enrollment', SubjectIdentifier: 'ektp', Name: 'e-KTP sandbox', Kind: 'sandbox' },
    { Subject: 'digitalid', SubjectType: 'verification', SubjectIdentifier: 'flaky', Name: 'Flaky verification', Kind: 'http', Attempts: 1, TimeoutMs: 2000, Http: { Url: upstream.url } },
    { Subject: 'digitalid', SubjectType: 'verification', SubjectIdentifier: 'thrice', Name: 'Three tries', Kind: 'http', Attempts: 3, Backoff: { DelayMs: 50, Jitter: 0 }, TimeoutMs: 2000, Http: { Url: `${upstream.url}?thrice` } },
    { Subject: 'digitalid', SubjectType: 'verification', SubjectIdentifier: 'idle', Name: 'Nobody serves this', Kind: 'sandbox' }
  ])
  const db = await createTestDatabase()
  const prefix = uniquePrefix('histpages')
  const env = { REDIS_URL: TEST_REDIS_URL, QUEUE_PREFIX: prefix, PRODUCTS_FILE: catalogFile, DATABASE_URL: db.url, LOG_LEVEL: 'warn', WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true' }
  const app = await buildApp(loadIntakeConfig({ ...env, LOG_LEVEL: 'silent' }), { logger: false })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
  const worker = await spawnWorker({ ...env, WORKER_PRODUCTS: 'digitalid/enrollment/ektp,digitalid/verification/flaky,digitalid/verification/thrice' })
  const writer = await spawnWorker({ ...env, WORKER_ROLE: 'history', HISTORY_POLL_MS: '20' })
  let browser: Browser | undefined
  t.teardown(async () => {
    await browser?.close()
    await worker.stop()
    await writer.stop()
    await app.close()
    await db.drop()
    await deleteKeys(prefix)
  })
  const client = tokenFor('demo-client')
  const api = async (method: string, path: string, body?: unknown): Promise<{ status: number, json: Record<string, unknown> }> => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${client}`, ...(body === undefined ? {} : { 'content-type': 'application/json', prefer: 'wait=10' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) })
    })
    return { status: res.status, json: await res.json() as Record<string, unknown> }
  }
  // The client's webhook receiver: the ticket page lists its deliveries, the webhooks page its endpoint.
  const received: string[] = []
  const hook = createServer((req, res) => { req.resume(); req.on('end', () => { received.push(String(req.headers['webhook-id'])); res.writeHead(204).end() }) })
  await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', () => resolve()))
  t.teardown(() => { hook.closeAllConnections(); hook.close() })
  t.equal((await api('PUT', '/v1/webhook', { Url: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook` })).status, 201)
  await new Promise((resolve) => setTimeout(resolve, 1200)) // the dispatchers read endpoints once a second
  t.equal((await api('POST', '/v1/request-out', { ...SEED_TICKET, TicketId: 'page-ok-1', Data: { NIK: '3201015508900001' } })).status, 200)
  t.equal((await api('POST', '/v1/request-out', { ...SEED_TICKET, TicketId: 'page-ok-2' })).status, 200)
  t.equal((await api('POST', '/v1/request-out', { ...SEED_TICKET, SubjectType: 'verification', SubjectIdentifier: 'flaky', TicketId: 'page-failed' })).status, 502)
  t.equal((await api('POST', '/v1/request-out', { ...SEED_TICKET, SubjectType: 'verification', SubjectIdentifier: 'thrice', TicketId: 'page-thrice' })).status, 502)
  // Every try is history, the last one too (#29.1): the admin API's Tries hold each try's reason.
  const admin = tokenFor('demo-admin', 'admin')
  const triesOf = async (ticketId: string): Promise<Array<Record<string, unknown>>> => {
    const res = await fetch(`${base}/v1/admin/tickets/demo-client/${ticketId}`, { headers: { authorization: `Bearer ${admin}` } })
    return res.status === 200 ? ((await res.json()) as { Data: { Tries: Array<Record<string, unknown>> } }).Data.Tries : []
  }
  const once = await waitFor('the one try of page-failed in history', async () => { const tries = await triesOf('page-failed'); return tries.length === 1 ? tries : undefined }, 15_000, 100)
  t.match(once, [{ Attempt: 1, Round: 1, Outcome: 'failed', Reason: 'upstream answered 503', StartedBy: 'client', Worker: /^.+:\d+$/, StartedAt: /^\d{4}-/, DurationMs: Number }],
    'Attempts: 1 — the one try and its reason')
  const thrice = await waitFor('the three tries of page-thrice in history', async () => { const tries = await triesOf('page-thrice'); return tries.length === 3 ? tries : undefined }, 15_000, 100)
  t.same(thrice.map((x) => [x.Attempt, x.Outcome, x.Reason]), [[1, 'failed', 'upstream answered 503'], [2, 'failed', 'upstream answered 503'], [3, 'failed', 'upstream answered 503']],
    'Attempts: 3 — three tries, three reasons')

  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] })
  const context = await browser.newContext()
  await context.route((url) => !['127.0.0.1', 'localhost'].includes(url.hostname), async (route) => route.abort())
  const page = await context.newPage()
  const shot = async (name: string): Promise<void> => { await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true }) }
  await page.goto(`${base}/admin/login`)
  await page.fill('input[name=Username]', 'demo-admin')
  await page.fill('input[name=Password]', 'demo-admin-secret')
  await page.click('button[type=submit]')
  await page.waitForURL(/\/admin\/queues/, { waitUntil: 'domcontentloaded' })

  // Search: the header links here; the writer may still be storing, so the page is reloaded until all three show.
  // #29.3: the products page counts each product's dead letters and links their search.
  const deadLetters = page.locator('tr[data-key="digitalid/verification/thrice"] [data-field=dead-letters]')
  await waitFor('the dead letters of the three-tries product', async () => {
    await page.goto(`${base}/admin/products`)
    return await deadLetters.textContent() === '1 / 1'
  }, 15_000, 200)
  t.match(await deadLetters.getAttribute('href'), /^\/admin\/tickets\?Product=digitalid%2Fverification%2Fthrice&Code=PRODUCT_FAILED&From=\d{4}-/, 'linked to the filtered ticket search')
  t.equal(await page.locator('tr[data-key="digitalid/enrollment/ektp"] [data-field=dead-letters]').textContent(), '0 / 0')
  await page.click('header a[href="/admin/tickets"]')
  await page.waitForURL(/\/admin\/tickets$/)
  await waitFor('four tickets on the page', async () => {
    await page.goto(`${base}/admin/tickets?ClientId=demo-client`)
    return await page.locator('tr[data-ticket]').count() === 4
  }, 15_000, 200)
  await shot('tickets')
  await page.fill('input[name=TicketId]', 'page-ok*')
  await page.fill('input[name=ClientId]', 'demo-client')
  await page.click('form.filters button[type=submit]')
  await page.waitForURL(/TicketId=page-ok/)
  t.same(await page.locator('tr[data-ticket]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-ticket'))), ['page-ok-2', 'page-ok-1'], 'prefix search, newest first')
  await page.goto(`${base}/admin/tickets?Code=NOPE%20NOPE`)
  t.match(await page.locator('[role=alert]').textContent(), /Code/, 'a bad filter is said on the page')

  // The failed ticket: its timeline, its job, and a retry once the upstream is back.
  await page.goto(`${base}/admin/tickets?ClientId=demo-client&Code=PRODUCT_FAILED`)
  await page.click('a:text("page-failed")')
  await page.locator('[data-field=code]').waitFor()
  t.equal(await page.locator('[data-field=code]').textContent(), 'PRODUCT_FAILED')
  t.same(await page.locator('tr[data-type]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-type'))), ['accepted', 'try-failed', 'record'], 'the last try has its event too')
  t.same(await page.locator('tr[data-try]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-try'))), ['failed'], 'the tries table, above the timeline')
  t.match(await page.locator('[data-field=tries] tbody').textContent(), /upstream answered 503/)
  // Defects #25.20: the reason at the top; times as ISO and fields, not epoch milliseconds and raw JSON.
  t.ok(((await page.locator('[data-field=reason]').textContent()) ?? '').length > 0, 'the failure\'s reason is near the top')
  const timeline = await page.locator('tr[data-type] dl.details').allTextContents()
  t.notMatch(timeline.join(' '), /\b1\d{12}\b|[{}]/, 'no epoch milliseconds or raw JSON in the timeline')
  t.match(timeline.join(' '), /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}/)
  t.match(await page.locator('[data-field=record]').textContent(), /^\{\n {2}"TicketId": "page-failed",\n {2}"Subject"/, 'the record in the API\'s field order')
  t.match(await page.locator('a:text("in the dashboard")').getAttribute('href'), /^\/admin\/queues\/queue\/.+\/.+/, 'the matching bull-board job is linked')
  await shot('ticket-failed')
  // Defects #25.9: a retry that fails again is a new outcome the page shows (its record event).
  await page.click('button:text("Retry the ticket")')
  await page.waitForURL(/done=retry/)
  await waitFor('the page to show the retry failed again, with its record', async () => {
    await page.reload()
    return await page.locator('[data-field=retry-outcome]').count() === 1 && await page.locator('tr[data-type=record]').count() === 2
  }, 20_000, 200)
  t.same(await page.locator('tr[data-type]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-type'))), ['accepted', 'try-failed', 'record', 'job.retry', 'try-failed', 'record'], 'the failed retry has its try and its record in the timeline')
  t.same(await page.locator('tr[data-try] td:first-child').allTextContents(), ['1', '2'], 'the operator\'s retry is round 2')
  t.match(await page.locator('tr[data-try]').nth(1).textContent(), /demo-admin/, 'started by the operator')
  t.equal(await page.locator('[role=status]:text("back in its queue")').count(), 0, 'no "back in its queue" once it failed again')
  upstream.heal()
  await page.click('button:text("Retry the ticket")')
  await page.waitForURL(/done=retry/)
  await waitFor('the retried ticket to complete', async () => (await api('GET', '/v1/request-out/page-failed')).status === 200, 20_000, 100)
  await waitFor('the page to show SUCCESS', async () => {
    await page.reload()
    return await page.locator('[data-field=code]').textContent() === 'SUCCESS'
  }, 15_000, 200)
  t.same(await page.locator('tr[data-type]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-type'))), ['accepted', 'try-failed', 'record', 'job.retry', 'try-failed', 'record', 'job.retry', 'record'], 'the operator\'s retries are in the timeline')
  t.same(await page.locator('tr[data-try]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-try'))), ['failed', 'failed', 'succeeded'])
  await shot('ticket-tries')

  // A record with personal data: shown redacted, then erased.
  await page.goto(`${base}/admin/tickets/demo-client/page-ok-1`)
  t.match(await page.locator('[data-field=record]').textContent(), /"NIK": "\[redacted\]"/, 'personal fields redacted in the view')
  t.notMatch(await page.content(), /3201015508900001/, 'the NIK is nowhere on the page')
  await shot('ticket')
  await page.click('button:text("Erase personal data")')
  await page.waitForURL(/done=erase/)
  t.match(await page.locator('[data-field=record]').textContent(), /"NIK": "\[erased\]"/, 'erased')
  t.match((await api('GET', '/v1/request-out/page-ok-1')).json, { Data: { NIK: '[erased]' } }, 'the client reads the erased record')

  // A traced POST's ticket shows its trace id (claimed here with one, as a traced POST's claim is).
  await app.recordStore.claim('traced-client', 'page-traced', 'fp', 'digitalid/enrollment/ektp', 'req-traced', '4bf92f3577b34da6a3ce929d0e0e4736')
  await waitFor('the traced ticket\'s page', async () => {
    await page.goto(`${base}/admin/tickets/traced-client/page-traced`)
    return await page.locator('[data-trace-id]').count() > 0
  }, 15_000, 200)
  t.equal((await page.locator('[data-trace-id]').textContent())?.trim(), '4bf92f3577b34da6a3ce929d0e0e4736', 'the ticket page shows its trace id')

  // Cancellation: one ticket from its page, then the rest in bulk after a count.
  const idle = { ...SEED_TICKET, SubjectType: 'verification', SubjectIdentifier: 'idle' }
  for (const id of ['idle-1', 'idle-2', 'idle-3']) t.equal((await fetch(`${base}/v1/request-out`, { method: 'POST', headers: { authorization: `Bearer ${client}`, 'content-type': 'application/json' }, body: JSON.stringify({ ...idle, TicketId: id }) })).status, 202)
  await waitFor('idle-1 in history', async () => {
    await page.goto(`${base}/admin/tickets/demo-client/idle-1`)
    return await page.locator('button:text("Cancel the ticket")').count() === 1
  }, 15_000, 200)
  await page.click('button:text("Cancel the ticket")')
  await page.waitForURL(/done=cancel/)
  t.equal((await api('GET', '/v1/request-out/idle-1')).status, 410, 'cancelled from its page')
  await page.goto(`${base}/admin/tickets`)
  await page.fill('form[action="/admin/cancellations"] input[name=Product]', 'digitalid/verification/idle')
  await page.fill('form[action="/admin/cancellations"] input[name=ClientId]', 'demo-client')
  await page.click('button:text("Count matching tickets")')
  await page.locator('[data-field=matched]').waitFor()
  t.match(await page.locator('[data-field=matched]').textContent(), /2 tickets match/, 'the dry run counts first')
  t.equal((await api('GET', '/v1/request-out/idle-2')).status, 404, 'and cancels nothing')
  await shot('cancel-count')
  await page.click('button:text("Cancel these 2 tickets")')
  await page.locator('[data-field=cancelled]').waitFor()
  t.match(await page.locator('[data-field=cancelled]').textContent(), /2 of 2/)
  for (const id of ['idle-2', 'idle-3']) t.equal((await api('GET', `/v1/request-out/${id}`)).status, 410, `${id} cancelled in bulk`)

  // Webhooks: the ticket page lists the deliveries and sends again; the webhooks page switches the endpoint.
  await waitFor('the delivery on the ticket page', async () => {
    await page.goto(`${base}/admin/tickets/demo-client/page-ok-2`)
    return await page.locator('tr[data-delivery="204"]').count() === 1
  }, 15_000, 200)
  const sent = received.length
  await page.click('button:text("Send the last event again")')
  await page.waitForURL(/done=resend/)
  await waitFor('the re-send', () => received.length === sent + 1, 15_000, 50)
  await page.click('header a[href="/admin/webhooks"]')
  await page.locator('tr[data-client="demo-client"]').waitFor()
  t.equal(await page.locator('tr[data-client="demo-client"] [data-field=state]').textContent(), 'enabled')
  t.match(await page.locator('tr[data-client="demo-client"] [data-field=rate]').textContent(), /100 %/)
  await shot('webhooks')
  await page.click('tr[data-client="demo-client"] button:text("Disable")')
  await page.waitForURL(/\/admin\/webhooks$/)
  t.match(await page.locator('tr[data-client="demo-client"] [data-field=state]').textContent(), /disabled/)
  t.match((await api('GET', '/v1/webhook')).json, { Data: { Enabled: false, DisabledReason: 'disabled by an operator' } }, 'the client sees it')

  // The audit trail page: every action, by the session's operator.
  await page.click('header a[href="/admin/audit"]')
  await waitFor('seven audit rows', async () => {
    await page.reload()
    return await page.locator('tr[data-action]').count() === 7
  }, 15_000, 200)
  t.same(await page.locator('tr[data-action]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-action'))),
    ['webhook.disable', 'webhook.resend', 'tickets.cancel', 'ticket.cancel', 'personal-data.erase', 'job.retry', 'job.retry'])
  t.match(await page.locator('[data-chain]').getAttribute('data-chain'), 'intact', 'the page says the hash chain holds (defects #25.7)')
  t.match(await page.locator('tr[data-action="job.retry"]').first().textContent(), /demo-admin/)
  await shot('audit')

  // A form without its token is refused.
  const forged = await fetch(`${base}/admin/tickets/demo-client/page-ok-2/erase`, {
    method: 'POST', redirect: 'manual', headers: { cookie: `ro_admin_session=${tokenFor('demo-admin', 'admin')}`, 'content-type': 'application/x-www-form-urlencoded' }, body: ''
  })
  t.equal(forged.status, 403, 'erasure without the form token is refused')

  // #29.2: the redrive form, pre-filled from the dead letters' search: count, confirm, progress.
  await page.goto(`${base}/admin/tickets?Product=digitalid%2Fverification%2Fthrice&Code=PRODUCT_FAILED`)
  t.equal(await page.locator('form[data-form=redrive] input[name=Product]').inputValue(), 'digitalid/verification/thrice', 'the redrive form takes the search\'s product')
  await page.click('button:text("Count tickets to redrive")')
  await page.locator('[data-field=selected]').waitFor()
  t.match(await page.locator('[data-field=selected]').textContent(), /^1 tickets would be sent back/)
  t.same(await page.locator('tr[data-sample] td:nth-child(2)').allTextContents(), ['page-thrice'], 'with a sample')
  t.equal((await api('GET', '/v1/request-out/page-thrice')).status, 502, 'the count sent nothing')
  await shot('redrive-dry-run')
  await page.click('button:text("Redrive these 1 tickets")')
  await page.waitForURL(/\/admin\/redrives\/[\w-]+$/)
  await waitFor('the redrive to be done', async () => {
    await page.reload()
    return await page.locator('[data-field=state]').textContent() === 'done'
  }, 20_000, 300)
  t.equal(await page.locator('[data-field=completed]').textContent(), '1')
  t.equal((await api('GET', '/v1/request-out/page-thrice')).status, 200, 'the redriven ticket completed')
  await shot('redrive-progress')
})
