import t from 'tap'
import { randomBytes } from 'node:crypto'
import { TEST_REDIS_URL } from '@request-out/test-support'
import { ticketKey } from '@request-out/redis-keys'
import { loadIntakeConfig } from '../src/config.js'
import { SANDBOX, SEED_TICKET, postTicket, startIntake, tokenFor, writeUsersFile } from './helpers.js'

const ALL = 'user-directory,rate-limit,ratelimit-fields,validation,claim,fair-share,breaker,history-backlog,access-log,metrics'

t.test('the bench\'s switches (BENCH_INTAKE_OFF) are refused in production and name only known features', async (t) => {
  const production = {
    NODE_ENV: 'production', REDIS_URL: TEST_REDIS_URL, AUTH_USERS_FILE: writeUsersFile(t), JWT_SECRET: randomBytes(32).toString('base64'), TICKET_FINGERPRINT_KEY: randomBytes(32).toString('base64')
  }
  t.ok(loadIntakeConfig(production).production, 'the production settings alone start')
  t.throws(() => loadIntakeConfig({ ...production, BENCH_INTAKE_OFF: 'claim' }), /BENCH_INTAKE_OFF: the bench's switches are refused in production/)
  t.throws(() => loadIntakeConfig({ REDIS_URL: TEST_REDIS_URL, BENCH_INTAKE_OFF: 'claim,auth' }), /BENCH_INTAKE_OFF/, 'an unknown feature is refused')
  t.ok(loadIntakeConfig({ REDIS_URL: TEST_REDIS_URL, BENCH_INTAKE_OFF: 'claim' }).warnings.some((w) => /BENCH_INTAKE_OFF: claim switched off for a bench/.test(w)), 'said at start')
})

t.test('each switch takes its step off the POST: what the cost table measures is what it names', async (t) => {
  const { app } = await startIntake(t, { BENCH_INTAKE_OFF: ALL })
  // A token for a user no directory knows: with the directory check off, its claims say who it is.
  const res = await postTicket(app, tokenFor('nobody-in-the-file'), { ...SEED_TICKET, TicketId: 'switched', Data: { NIK: 'not a NIK at all' } })
  t.equal(res.statusCode, 202, 'accepted: no directory check, no input-schema validation')
  t.equal(res.headers.ratelimit, undefined, 'no RateLimit fields')
  t.equal(await app.recordStore.eventsState('nobody-in-the-file', 'switched'), undefined, 'no claim: no ticket hash')
  const job = await app.ticketQueues.queueFor(SANDBOX)?.getJob(ticketKey('nobody-in-the-file', 'switched'))
  t.equal(job?.priority ?? -1, 0, 'no fair-share turn: the job is in the plain wait list')
  t.notMatch(await app.metrics.registry.getSingleMetricAsString('request_out_tickets_total'), /outcome="accepted"/, 'no request metrics')
})
