// What a log line costs with the shipped redaction against the same logger without it, and against
// pino's own `redact` option with the same paths (what shipped until the redaction was our own):
// the intake's access line (the per-request line at `info`) written to a sink that drops it, in
// process, through Fastify's pino as the apps build it. Not a load: a micro-benchmark of one call.
import Fastify, { type FastifyBaseLogger } from 'fastify'
import pino from 'pino'
import { LogRedactPaths, REDACTED, type LogSerializer, loggerOptions } from '@request-out/runtime'

export interface LogLineResult { redactedMicros: number, plainMicros: number, ratio: number, pinoRedactMicros: number, pinoRedactRatio: number }

const LINES = 100_000

const accessLine = (i: number): Record<string, unknown> => ({
  req: { method: 'POST', url: '/v1/request-out', host: '127.0.0.1:3000', remoteAddress: '127.0.0.1', remotePort: 51234 },
  res: { statusCode: 202 },
  responseTime: 3.2,
  ticketId: `T-${i}`,
  clientId: 'demo-client',
  product: 'digitalid/enrollment/ektp',
  jobId: `ZGVtby1jbGllbnQ.T-${i}`,
  attempt: 0,
  outcome: 'accepted'
})

// The access line's request and reply are already what the intake's serializers make of them; the
// same serializers (copies of their fields) on all three sides.
const serializers: Record<string, LogSerializer> = {
  req: (req: Record<string, unknown>) => ({ method: req.method, url: req.url, host: req.host, remoteAddress: req.remoteAddress, remotePort: req.remotePort }),
  res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
  err: pino.stdSerializers.err
}

export async function logLineRow (): Promise<LogLineResult> {
  const sink = { write: (): void => {} }
  const shipped = loggerOptions('info', 'intake', serializers)
  const { formatters, onChild, serializers: redactingSerializers, ...plain } = shipped
  if (formatters?.log === undefined || redactingSerializers === undefined) throw new Error('the shipped logger options redact nothing: this row measures nothing')
  const apps = [
    Fastify({ logger: { ...shipped, stream: sink } }),
    Fastify({ logger: { ...plain, serializers, stream: sink } }),
    Fastify({ logger: { ...plain, serializers, redact: { paths: [...LogRedactPaths], censor: REDACTED }, stream: sink } })
  ]
  const micros = (log: FastifyBaseLogger): number => {
    const child = log.child({ requestId: 'req-1' })
    const started = process.hrtime.bigint()
    for (let i = 0; i < LINES; i++) child.info(accessLine(i), 'request completed')
    return Number(process.hrtime.bigint() - started) / LINES / 1000
  }
  // Warm each, then alternate: the better of two runs of each.
  for (const app of apps) micros(app.log)
  const best = [Infinity, Infinity, Infinity]
  for (let round = 0; round < 2; round++) apps.forEach((app, i) => { best[i] = Math.min(best[i] as number, micros(app.log)) })
  await Promise.all(apps.map(async (app) => { await app.close() }))
  const [r, p, pr] = best as [number, number, number]
  const round = (n: number): number => Math.round(n * 100) / 100
  return { redactedMicros: round(r), plainMicros: round(p), ratio: round(r / p), pinoRedactMicros: round(pr), pinoRedactRatio: round(pr / p) }
}
