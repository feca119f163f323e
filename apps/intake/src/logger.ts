import type { FastifyRequest } from 'fastify'

/**
 * The request as a log line shows it. The query string's values are replaced: a client may put a
 * token (`?access_token=`) or personal data there, and the URL would carry it into every log store.
 */
export function requestForLog (request: FastifyRequest): Record<string, unknown> {
  return {
    method: request.method,
    url: urlWithoutQueryValues(request.url),
    host: request.host,
    remoteAddress: request.ip,
    remotePort: request.socket?.remotePort
  }
}

function urlWithoutQueryValues (url: string): string {
  const q = url.indexOf('?')
  if (q < 0) return url
  const names = url.slice(q + 1).split('&').filter((p) => p !== '').map((p) => `${p.split('=')[0] ?? ''}=[redacted]`)
  return `${url.slice(0, q)}?${names.join('&')}`
}
