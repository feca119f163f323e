// What a log line costs with the shipped redaction against the same logger without it: the
// intake's access line (the per-request line at `info`) written to a sink that drops it, in
// process, through Fastify's pino as the apps build it. Not a load: a micro-benchmark of one call.
import Fastify from 'fastify'
import { loggerOptions } from '@request-out/runtime'

export interface LogLineResult { redactedMicros: number, plainMicros: number, ratio: number }

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

export async function logLineRow (): Promise<LogLineResult> {
  const sink = { write: (): void => {} }
  const { redact, ...plain } = loggerOptions('info', 'intake')
  if (redact === undefined) throw new Error('the shipped logger options redact nothing: this row measures nothing')
  const redacted = Fastify({ logger: { ...plain, redact, stream: sink } })
  const bare = Fastify({ logger: { ...plain, stream: sink } })
  const micros = (log: typeof redacted.log): number => {
    const child = log.child({ requestId: 'req-1' })
    const started = process.hrtime.bigint()
    for (let i = 0; i < LINES; i++) child.info(accessLine(i), 'request completed')
    return Number(process.hrtime.bigint() - started) / LINES / 1000
  }
  // Warm both, then alternate: the better of two runs of each.
  micros(redacted.log)
  micros(bare.log)
  const r = Math.min(micros(redacted.log), micros(redacted.log))
  const p = Math.min(micros(bare.log), micros(bare.log))
  await Promise.all([redacted.close(), bare.close()])
  const round = (n: number): number => Math.round(n * 100) / 100
  return { redactedMicros: round(r), plainMicros: round(p), ratio: round(r / p) }
}
