import type { LoggerOptions } from 'pino'
import { traceLogFields } from '@request-out/tracing'
import { LogRedactPaths } from './personal-data.js'

/**
 * pino options of every process: JSON at `level`, credentials and personal data redacted, a
 * `service` field (`intake` or `worker`) and the pid; pretty only on a TTY that does not say
 * `LOG_PRETTY=0`. A line written inside a span carries `trace_id` and `span_id`.
 */
export function loggerOptions (level: string, service: string): LoggerOptions {
  const pretty = process.stdout.isTTY && process.env.LOG_PRETTY !== '0'
  return {
    level,
    base: { service, pid: process.pid },
    mixin: traceLogFields,
    redact: { paths: [...LogRedactPaths], censor: '[redacted]' },
    ...(pretty ? { transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'hostname' } } } : {})
  }
}
