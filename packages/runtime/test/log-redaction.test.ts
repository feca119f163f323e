import { isDeepStrictEqual } from 'node:util'
import t from 'tap'
import pino, { type LoggerOptions } from 'pino'
import { LogRedactPaths, REDACTED, loggerOptions } from '../src/index.js'
import { redactingLogOptions } from '../src/log-redaction.js'

/** A logger writing parsed lines into an array, its time and pid left out. */
function capture (options: LoggerOptions): { log: pino.Logger, lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = []
  const log = pino({ ...options, level: 'trace', timestamp: false, transport: undefined }, {
    write: (line: string) => { lines.push(JSON.parse(line) as Record<string, unknown>) }
  })
  return { log, lines }
}

// A serializer that shows what it was given under keys of its own, headers included: the paths
// apply to its output, not to the value logged.
const serializers = {
  req: (req: { method?: string, headers?: unknown } | null) => ({ method: req?.method, headers: req?.headers }),
  err: pino.stdSerializers.err
}
const ours = (): ReturnType<typeof capture> => capture(loggerOptions('trace', 'test', serializers))
const pinos = (): ReturnType<typeof capture> => capture({
  base: { service: 'test', pid: process.pid }, serializers, redact: { paths: [...LogRedactPaths], censor: REDACTED }
})

/** A small deterministic generator (mulberry32): the same objects in every run. */
function generator (seed: number): () => number {
  let s = seed
  return () => {
    s = (s + 0x6d2b79f5) | 0
    let x = Math.imul(s ^ (s >>> 15), 1 | s)
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

const KEYS = ['NIK', 'Image', 'Data', 'Password', 'password', 'token', 'AccessToken', 'Authorization', 'authorization',
  'headers', 'req', 'res', 'cookie', 'set-cookie', 'job', 'items', 'a', 'b', 'msgx', '0']

function value (random: () => number, depth: number): unknown {
  const r = random()
  if (depth >= 4 || r < 0.35) return [`v${Math.floor(random() * 1000)}`, 42, true, null, undefined, ''][Math.floor(random() * 6)]
  if (r < 0.45) return Array.from({ length: Math.floor(random() * 3) }, () => value(random, depth + 1))
  return object(random, depth + 1)
}

function object (random: () => number, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  const size = 1 + Math.floor(random() * 4)
  for (let i = 0; i < size; i++) out[KEYS[Math.floor(random() * KEYS.length)] as string] = value(random, depth)
  return out
}

t.test('every line comes out as pino\'s own redaction makes it, and the logged objects stay as they were', async (t) => {
  const a = ours()
  const b = pinos()
  const random = generator(31)
  let censored = 0
  for (let i = 0; i < 3000; i++) {
    const logged = object(random, 0)
    const before = structuredClone(logged)
    a.log.info(logged, 'line')
    if (!isDeepStrictEqual(logged, before)) t.fail(`line ${i}: the logged object was changed`)
    // pino's own redaction, second: it censors some values in the caller's object itself.
    b.log.info(logged, 'line')
    if (JSON.stringify(a.lines[i]).includes(REDACTED)) censored++
  }
  const differ = a.lines.findIndex((line, i) => !isDeepStrictEqual(line, b.lines[i]))
  t.equal(differ, -1, differ < 0 ? 'the same 3,000 lines' : `line ${differ}: ${JSON.stringify(a.lines[differ])} against ${JSON.stringify(b.lines[differ])}`)
  t.ok(censored > 1000, `most lines have something censored (${censored}): the comparison covers the paths`)
})

t.test('bindings and serialized values are redacted too, the same as pino does', async (t) => {
  const a = ours()
  const b = pinos()
  const error = Object.assign(new Error('upstream refused'), { NIK: '3171015708450002', detail: { Image: 'aGk=' } })
  const request = { method: 'POST', headers: { authorization: 'Bearer abc', cookie: 'sid=1', accept: 'json' }, body: { Data: { NIK: '1' } } }
  for (const { log } of [a, b]) {
    log.child({ job: { Data: { NIK: '1' } }, token: 'tok' }).info({ req: request, err: error, res: { headers: { 'set-cookie': 'x' } } }, 'child')
    log.error(error)
  }
  t.same(a.lines, b.lines)
  t.match(a.lines[0], {
    job: { Data: REDACTED },
    token: REDACTED,
    req: { method: 'POST', headers: { authorization: REDACTED, cookie: REDACTED, accept: 'json' } },
    err: { message: 'upstream refused', NIK: REDACTED, detail: { Image: REDACTED } },
    res: { headers: { 'set-cookie': REDACTED } }
  })
  t.notOk('body' in (a.lines[0]?.req as object), 'the serializer\'s output is what is shown')
  t.match(a.lines[1], { msg: 'upstream refused', err: { NIK: REDACTED } })
  t.equal(error.NIK, '3171015708450002', 'the error itself keeps its fields')
})

t.test('a censored copy keeps its prototype, and binary values and cycles are left alone', async (t) => {
  const { log, lines } = ours()
  class Shown { constructor (readonly NIK: string, readonly kept: string) {} toJSON (): unknown { return { kept: this.kept, NIK: this.NIK } } }
  const cyclic: Record<string, unknown> = { name: 'loop' }
  cyclic.self = cyclic
  log.info({ holder: new Shown('1234', 'yes'), bytes: Buffer.from('NIK'), cyclic })
  t.match(lines[0], { holder: { kept: 'yes', NIK: REDACTED }, bytes: { type: 'Buffer' }, cyclic: { name: 'loop', self: '[Circular]' } })
})

t.test('a path the redaction cannot keep is refused when the logger is built', async (t) => {
  t.throws(() => redactingLogOptions(['headers.*'], REDACTED, {}), /must end in a key/)
})
