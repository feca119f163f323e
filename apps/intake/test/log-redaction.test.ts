import t from 'tap'
import { SEED_TICKET, postTicket, startIntake, tokenFor } from './helpers.js'

const NIK = '3171015708450002'
const PASSWORD = 'hunter2-correct-horse'

t.test('no credential or personal value reaches a line of the intake\'s logger, whatever a line carries', async (t) => {
  const lines: Array<Record<string, unknown>> = []
  const token = tokenFor('client-a')
  const { app } = await startIntake(t, {}, undefined, {
    logLines: lines,
    // A route of the test's own that logs the worst a line could carry: the request and the reply
    // themselves, the body, an error holding personal fields, and a child logger bound to them.
    beforeReady: (app) => {
      app.post('/test/log-everything', async (request, reply) => {
        const body = request.body as Record<string, unknown>
        const err = Object.assign(new Error('upstream refused'), { NIK, detail: { Image: 'aGVsbG8=' } })
        request.log.child({ ticket: body, Password: PASSWORD }).warn({ req: request, res: reply, body, err, headers: request.headers }, 'everything')
        return await reply.code(204).send()
      })
    }
  })
  const sent = await app.inject({
    method: 'POST',
    url: '/test/log-everything?access_token=abc',
    headers: { authorization: `Bearer ${token}`, cookie: 'session=s3cr3t' },
    payload: { TicketId: 'T-1', Data: { NIK, Image: 'aGVsbG8=' }, Password: PASSWORD, AccessToken: token }
  })
  t.equal(sent.statusCode, 204)
  t.equal((await postTicket(app, token, { ...SEED_TICKET, TicketId: 'T-2', Data: { NIK } })).statusCode, 202)

  const text = JSON.stringify(lines)
  for (const [what, secret] of [['the NIK', NIK], ['the password', PASSWORD], ['the token', token.split('.')[2] ?? 'never'], ['the cookie', 's3cr3t'], ['the image', 'aGVsbG8=']]) {
    t.notOk(text.includes(secret as string), `${what as string} is in no line`)
  }
  const line = lines.find((l) => l.msg === 'everything')
  t.match(line, {
    ticket: { Data: '[redacted]', Password: '[redacted]', AccessToken: '[redacted]', TicketId: 'T-1' },
    Password: '[redacted]',
    req: { method: 'POST', url: '/test/log-everything?access_token=[redacted]' },
    res: { statusCode: 200 },
    body: { Data: '[redacted]', Password: '[redacted]', AccessToken: '[redacted]', TicketId: 'T-1' },
    err: { message: 'upstream refused', NIK: '[redacted]', detail: { Image: '[redacted]' } },
    headers: { authorization: '[redacted]', cookie: '[redacted]' }
  }, 'the line is there with its other fields')
  t.notOk('headers' in (line?.req as object), 'the request shows as the intake\'s serializer makes it')
  t.ok(lines.some((l) => l.msg === 'request completed' && l.ticketId === 'T-2'), 'the access line of the submitted ticket is there')
})
