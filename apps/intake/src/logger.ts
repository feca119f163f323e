import type { FastifyReply, FastifyRequest } from 'fastify'
import type { LoggerOptions } from 'pino'
import { loggerOptions } from '@request-out/runtime'

/**
 * The intake's pino options: every process's, with the request and the reply as a line shows them.
 * Fastify's own `req` and `res` serializers are replaced, so the redaction applies to all three.
 */
export function intakeLoggerOptions (level: string): LoggerOptions {
  return loggerOptions(level, 'intake', { req: requestForLog, res: replyForLog })
}

/**
 * The request as a log line shows it. The query string's values are replaced: a client may put a
 * token (`?access_token=`) or personal data there, and the URL would carry it into every log store.
 */
function requestForLog (request: FastifyRequest): Record<string, unknown> {
  return {
    method: request.method,
    url: urlWithoutQueryValues(request.url),
    host: request.host,
    remoteAddress: request.ip,
    remotePort: request.socket?.remotePort
  }
}

/** What Fastify's own `res` serializer shows. */
function replyForLog (reply: Pick<FastifyReply, 'statusCode'>): Record<string, unknown> {
  return { statusCode: reply.statusCode }
}

function urlWithoutQueryValues (url: string): string {
  const q = url.indexOf('?')
  if (q < 0) return url
  const names = url.slice(q + 1).split('&').filter((p) => p !== '').map((p) => `${p.split('=')[0] ?? ''}=[redacted]`)
  return `${url.slice(0, q)}?${names.join('&')}`
}
