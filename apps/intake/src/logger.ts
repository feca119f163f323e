import type { LoggerOptions } from 'pino'
import { LogRedactPaths } from '@request-out/contracts'

/** pino options shared by the intake's processes: JSON, redacted, pretty only on a TTY that asks. */
export function loggerOptions (level: string, service: string): LoggerOptions {
  const pretty = process.stdout.isTTY && process.env.LOG_PRETTY !== '0'
  return {
    level,
    base: { service },
    redact: { paths: [...LogRedactPaths], censor: '[redacted]' },
    ...(pretty ? { transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } } } : {})
  }
}
