import type { LoggerOptions } from 'pino'
import { LogRedactPaths } from './personal-data.js'

/**
 * pino options of every process: JSON at `level`, credentials and personal data redacted, a
 * `service` field (`intake` or `worker`) and the pid; pretty only on a TTY that does not say
 * `LOG_PRETTY=0`.
 */
export function loggerOptions (level: string, service: string): LoggerOptions {
  const pretty = process.stdout.isTTY && process.env.LOG_PRETTY !== '0'
  return {
    level,
    base: { service, pid: process.pid },
    redact: { paths: [...LogRedactPaths], censor: '[redacted]' },
    ...(pretty ? { transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'hostname' } } } : {})
  }
}
