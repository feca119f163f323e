import t from 'tap'
import { TEST_REDIS_URL, deleteKeys, freePort, spawnApp, spawnWorker, uniquePrefix, waitFor } from '@request-out/test-support'
import { SEED_TICKET } from './helpers.js'

t.test('the README session against real processes: login, POST the seed example, poll, record', async (t) => {
  const prefix = uniquePrefix('e2e')
  const port = await freePort()
  const env = { REDIS_URL: TEST_REDIS_URL, QUEUE_PREFIX: prefix, PORT: String(port), LOG_LEVEL: 'debug' }
  const intake = spawnApp('intake', env)
  t.teardown(async () => { await intake.stop() })
  const worker = await spawnWorker(env)
  t.teardown(async () => {
    await worker.stop()
    await deleteKeys(prefix)
  })
  const base = `http://127.0.0.1:${port}`
  await waitFor('the intake to be ready', async () => (await fetch(`${base}/health/ready`)).ok, 20_000, 100)

  const login = await fetch(`${base}/v1/auth/login`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ Username: 'demo-client', Password: 'demo-client-secret' })
  })
  const token = ((await login.json()) as { Data: { AccessToken: string } }).Data.AccessToken
  const auth = { authorization: `Bearer ${token}` }

  const posted = await fetch(`${base}/v1/request-out`, {
    method: 'POST', headers: { ...auth, 'content-type': 'application/json', 'x-request-id': 'readme-session-1' }, body: JSON.stringify(SEED_TICKET)
  })
  t.equal(posted.status, 202)
  const location = posted.headers.get('location') ?? ''
  t.equal(location, `/v1/request-out/${SEED_TICKET.TicketId}`)

  const polled = await fetch(`${base}${location}`, { headers: { ...auth, prefer: 'wait=10' } })
  t.equal(polled.status, 200)
  t.match(await polled.json(), {
    ...SEED_TICKET,
    Action: 'create',
    ResourceType: 'data',
    Resource: 'nik',
    ResourceId: /^\d+$/,
    Data: { Image: 'ok', NIK: '12345678910', Status: 'ok', Source: 'sandbox' },
    Status: 'success',
    Message: 'success',
    StatusCode: 200
  })

  // One ticket, lines from both processes, the same ids.
  const workerLine = await worker.waitForLine((l) => l.ticketId === SEED_TICKET.TicketId && l.msg === 'ticket completed: record stored')
  t.match(workerLine, { requestId: 'readme-session-1', clientId: 'demo-client', product: 'digitalid/enrollment/ektp', attempt: 1, jobId: /\.312d31-/ })
  // One access line for the POST, carrying the ticket's fields.
  const intakeLine = await intake.waitForLine((l) => l.ticketId === SEED_TICKET.TicketId && l.msg === 'request completed' && l.outcome === 'accepted')
  t.match(intakeLine, { requestId: 'readme-session-1', clientId: 'demo-client', product: 'digitalid/enrollment/ektp' })

  // A ticket with personal data, valid and invalid, through both processes at debug level.
  const nik = '3201015508900001'
  const badNik = '3201017208900001'
  for (const [id, NIK] of [['with-nik', nik], ['bad-nik', badNik]]) {
    const res = await fetch(`${base}/v1/request-out`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json', prefer: 'wait=10' },
      body: JSON.stringify({ ...SEED_TICKET, TicketId: id, Data: { NIK, Image: 'data:image/png;base64,SECRETIMAGE' } })
    })
    t.equal(res.status, id === 'with-nik' ? 200 : 422)
  }
  await worker.waitForLine((l) => l.ticketId === 'bad-nik' && l.msg === 'ticket rejected by the product')
  const logs = intake.output() + worker.output()
  t.notMatch(logs, token.split('.')[2] ?? 'never', 'the token never reaches a log')
  t.notMatch(logs, 'demo-client-secret', 'nor the password')
  t.notMatch(logs, nik, 'nor a NIK')
  t.notMatch(logs, badNik, 'nor a rejected NIK')
  t.notMatch(logs, 'SECRETIMAGE', 'nor an image')
})
