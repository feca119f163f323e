import t from 'tap'
import { existsSync, mkdirSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { chromium, type Browser } from 'playwright-core'
import { TEST_REDIS_URL, WORKSPACE_ROOT, spawnWorker, uniquePrefix, writeCatalog } from '@request-out/test-support'
import { startIntake, tokenFor } from './helpers.js'

const CHROMIUM = '/usr/bin/chromium'
const SHOTS = join(WORKSPACE_ROOT, 'test-output', 'event-streams')

if (!existsSync(CHROMIUM)) {
  console.error(`\n*** BROWSER TEST SKIPPED: ${CHROMIUM} is missing (apt-get install chromium). EventSource was NOT tested in a browser. ***\n`)
}

/** A page of another origin that watches one ticket with EventSource and a stream token, as a client's front-end would. */
const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>Ticket status</title>
<style>body{font:14px system-ui;margin:2em} li{margin:.3em 0} #state{font-weight:bold}</style></head>
<body><h1>Ticket <span id="ticket"></span></h1><p>State: <span id="state">connecting</span></p><ul id="events"></ul>
<script>
const params = new URLSearchParams(location.search)
document.getElementById('ticket').textContent = params.get('ticket')
const source = new EventSource(params.get('api') + '/v1/request-out/' + encodeURIComponent(params.get('ticket')) + '/events?stream_token=' + encodeURIComponent(params.get('token')))
const show = (e) => {
  const data = JSON.parse(e.data)
  const li = document.createElement('li')
  li.className = data.Type
  li.textContent = data.Type + (data.Code ? ' ' + data.Code : '') + ' at ' + data.At + ' (' + e.lastEventId + ')'
  document.getElementById('events').append(li)
  document.getElementById('state').textContent = data.Type === 'record' ? 'done: ' + data.Code : 'in process'
  if (data.Type === 'record') source.close()
}
// Named events do not reach onmessage: one listener per type.
for (const type of ['accepted', 'try-failed', 'redriven', 'cancel-requested', 'record']) source.addEventListener(type, show)
source.onopen = () => { if (document.getElementById('state').textContent === 'connecting') document.getElementById('state').textContent = 'open' }
</script></body></html>`

t.test('a browser page with EventSource and a stream token shows a ticket\'s record arrive', { skip: existsSync(CHROMIUM) ? false : `BROWSER TEST SKIPPED: ${CHROMIUM} is missing` }, async (t) => {
  mkdirSync(SHOTS, { recursive: true })
  const pages = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(PAGE))
  await new Promise<void>((resolve) => pages.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { pages.closeAllConnections(); pages.close() })
  const origin = `http://127.0.0.1:${(pages.address() as AddressInfo).port}`

  // No worker runs until the page shows the ticket accepted: the record cannot land before.
  const catalog = writeCatalog([{ Subject: 'digitalid', SubjectType: 'enrollment', SubjectIdentifier: 'ektp', Name: 'sandbox', Kind: 'sandbox' }])
  const prefix = uniquePrefix('sse-browser')
  const { app } = await startIntake(t, { PRODUCTS_FILE: catalog, CORS_ORIGINS: origin }, prefix)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const api = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`

  // The page's back-end: submits the ticket and asks for a stream token for it.
  const bearer = { authorization: `Bearer ${tokenFor('client-a')}`, 'content-type': 'application/json' }
  const posted = await fetch(`${api}/v1/request-out`, { method: 'POST', headers: bearer, body: JSON.stringify({ TicketId: 'in-browser', Subject: 'digitalid', SubjectType: 'enrollment', SubjectIdentifier: 'ektp' }) })
  t.equal(posted.status, 202)
  const token = ((await (await fetch(`${api}/v1/stream-tokens`, { method: 'POST', headers: bearer, body: JSON.stringify({ TicketId: 'in-browser' }) })).json()) as { Data: { StreamToken: string } }).Data.StreamToken

  let browser: Browser | undefined
  t.teardown(async () => { await browser?.close() })
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']
  })
  const context = await browser.newContext()
  await context.route((url) => !['127.0.0.1', 'localhost'].includes(url.hostname), async (route) => route.abort())
  const page = await context.newPage()
  const errors: string[] = []
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()) })
  await page.goto(`${origin}/?api=${encodeURIComponent(api)}&ticket=in-browser&token=${encodeURIComponent(token)}`)
  await page.waitForSelector('li.accepted', { timeout: 10_000 })
  t.equal(await page.locator('li.record').count(), 0, 'the page shows the ticket accepted while it runs')
  await page.screenshot({ path: join(SHOTS, 'in-process.png'), fullPage: true })
  const worker = await spawnWorker({ REDIS_URL: TEST_REDIS_URL, QUEUE_PREFIX: prefix, PRODUCTS_FILE: catalog, LOG_LEVEL: 'warn' })
  t.teardown(async () => { await worker.stop() })
  await page.waitForSelector('li.record', { timeout: 20_000 })
  t.equal(await page.textContent('#state'), 'done: SUCCESS', 'then its record arrives')
  t.match(await page.textContent('li.record'), /^record SUCCESS at \d{4}-.* \(msg_\d+_\d+_\d+\)$/, 'with the event\'s id as EventSource saw it')
  await page.screenshot({ path: join(SHOTS, 'record.png'), fullPage: true })
  t.same(errors, [], 'no console error (CORS let the stream through)')
})
