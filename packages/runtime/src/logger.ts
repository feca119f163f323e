import pino, { type LoggerOptions } from 'pino'
import { traceLogFields } from '@request-out/tracing'
import { type LogSerializer, redactingLogOptions } from './log-redaction.js'
import { LogRedactPaths, REDACTED } from './personal-data.js'

/**
 * pino options of every process: JSON at `level`, credentials and personal data redacted (also in
 * what `serializers` make of a value; `err` is pino's error serializer unless given), a `service`
 * field (`intake` or `worker`) and the pid; pretty only on a TTY that does not say `LOG_PRETTY=0`.
 * A line written inside a span carries `trace_id` and `span_id`.
 *
 * A serializer a framework adds itself (Fastify adds `req`, `res` and `err` unless given) is not
 * redacted: give every one here.
 */
export function loggerOptions (level: string, service: string, serializers: Record<string, LogSerializer> = {}): LoggerOptions {
  const pretty = process.stdout.isTTY && process.env.LOG_PRETTY !== '0'
  return {
    level,
    base: { service, pid: process.pid },
    mixin: traceLogFields,
    ...redactingLogOptions(LogRedactPaths, REDACTED, { err: pino.stdSerializers.err, ...serializers }),
    ...(pretty ? { transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'hostname' } } } : {})
  }
}
