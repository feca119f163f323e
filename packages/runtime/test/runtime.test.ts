import t from 'tap'
import { LogRedactPaths, QUEUE_STATES, loggerOptions, scrubText } from '../src/index.js'

t.test('the job states both apps count', async (t) => {
  t.ok(QUEUE_STATES.includes('waiting') && QUEUE_STATES.includes('prioritized'))
})

t.test('scrubText removes NIK-length digit runs however formatted, and every given secret', async (t) => {
  t.equal(scrubText('NIK 3171015708450002 / 31710157-08450002 / 3171 0157 0845 0002'), 'NIK [redacted] / [redacted] / [redacted]')
  t.equal(scrubText('order 12345 of 2026'), 'order 12345 of 2026', 'short numbers stay')
  t.equal(scrubText('key sk-live-1 and sk-live-1 again', ['sk-live-1']), 'key [redacted] and [redacted] again')
  t.equal(scrubText('abc', ['ab']), 'abc', 'secrets under 4 characters are not treated as secrets')
})

t.test('every process logs with the same redaction', async (t) => {
  const options = loggerOptions('info', 'worker')
  t.match(options, { level: 'info', base: { service: 'worker', pid: process.pid } })
  t.type(options.formatters?.log, 'function', 'lines are redacted (log-redaction.test.ts: as pino would with LogRedactPaths)')
  t.type(options.serializers?.err, 'function', 'and errors, as serialized')
  t.notOk('redact' in options, 'not by pino\'s own redaction (8 times a line\'s cost)')
  t.ok(LogRedactPaths.includes('req.headers.authorization'))
})
