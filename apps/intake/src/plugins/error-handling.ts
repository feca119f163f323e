import { STATUS_CODES } from 'node:http'
import type { Duplex } from 'node:stream'
import fp from 'fastify-plugin'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { ErrorStatus, Message, errorEnvelope, type ErrorCode, type FieldError } from '@request-out/contracts'
import { isRedisUnavailable } from '@request-out/redis-connection'
import { HttpProblem, unavailable, validationProblem } from '../http-problem.js'

interface AjvIssue {
  instancePath?: string
  message?: string
  keyword?: string
  params?: Record<string, unknown>
}

/** Ajv issues as `{Field, Message}`, naming the field itself for "required" and "additionalProperties". */
export function fieldErrors (issues: AjvIssue[], base = ''): FieldError[] {
  const out: FieldError[] = []
  for (const issue of issues) {
    let field = base + (issue.instancePath ?? '')
    let message = issue.message ?? 'is not valid'
    if (issue.keyword === 'required' && typeof issue.params?.missingProperty === 'string') {
      field = `${field}/${issue.params.missingProperty}`
      message = 'is required'
    } else if (issue.keyword === 'additionalProperty' || issue.keyword === 'additionalProperties') {
      field = `${field}/${String(issue.params?.additionalProperty)}`
      message = 'is not an allowed field'
    }
    if (!out.some((e) => e.Field === (field || '/') && e.Message === message)) out.push({ Field: field || '/', Message: message })
  }
  return out
}

const BY_FASTIFY_CODE: Record<string, ErrorCode> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_BODY_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'INVALID_JSON',
  FST_ERR_CTP_INVALID_JSON_BODY: 'INVALID_JSON',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'VALIDATION_ERROR'
}

const BY_STATUS: Record<number, ErrorCode> = {
  400: 'VALIDATION_ERROR',
  401: 'UNAUTHORIZED',
  403: 'FORBIDDEN',
  404: 'ROUTE_NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  408: 'REQUEST_TIMEOUT',
  414: 'URI_TOO_LONG',
  431: 'HEADERS_TOO_LARGE',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  429: 'RATE_LIMITED',
  503: 'UNAVAILABLE'
}

function toProblem (error: FastifyError | HttpProblem | Error): HttpProblem {
  if (error instanceof HttpProblem) return error
  const e = error as FastifyError
  if (e.validation !== undefined) {
    const errors = fieldErrors(e.validation as AjvIssue[])
    return validationProblem(errors, e.validationContext === 'querystring' ? Message.INVALID_QUERY : Message.VALIDATION_ERROR)
  }
  const byCode = e.code === undefined ? undefined : BY_FASTIFY_CODE[e.code]
  if (byCode !== undefined) return new HttpProblem(byCode)
  // JSON.parse and secure-json-parse (which refuses __proto__ and constructor.prototype) throw SyntaxError.
  if (e instanceof SyntaxError && e.statusCode === 400) return new HttpProblem('INVALID_JSON')
  if (e.statusCode === 429) return new HttpProblem('RATE_LIMITED')
  if (isRedisUnavailable(e)) return unavailable()
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return new HttpProblem(BY_STATUS[e.statusCode] ?? 'VALIDATION_ERROR')
  }
  return new HttpProblem('INTERNAL')
}

/** Errors the router raises before any route runs (Fastify's `frameworkErrors`). */
type FrameworkCode = 'BAD_REQUEST' | 'URI_TOO_LONG' | 'HEADERS_TOO_LARGE' | 'REQUEST_TIMEOUT'
const BY_ROUTER_CODE: Record<string, FrameworkCode> = {
  FST_ERR_BAD_URL: 'BAD_REQUEST',
  FST_ERR_MAX_PARAM_LENGTH: 'URI_TOO_LONG'
}

/**
 * Errors Node's HTTP parser raises before Fastify sees a request (the server's `clientError`):
 * answered on the raw socket, in our envelope, then the connection is closed.
 */
export function clientErrorHandler (this: FastifyInstance, err: NodeJS.ErrnoException, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return
  const code: FrameworkCode = err.code === 'HPE_HEADER_OVERFLOW'
    ? 'HEADERS_TOO_LARGE'
    : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 'REQUEST_TIMEOUT' : 'BAD_REQUEST'
  this.log.debug({ code, reason: err.code }, 'connection refused by the HTTP parser')
  if (socket.writable) {
    const body = JSON.stringify(errorEnvelope(code, Message[code]))
    const status = ErrorStatus[code]
    socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nContent-Type: application/json; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n${body}`)
  }
  socket.destroy()
}

/** Fastify's `frameworkErrors`: router refusals answer in our envelope with their own codes. */
export function frameworkErrors (error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const code = BY_ROUTER_CODE[error.code] ?? 'BAD_REQUEST'
  request.log.info({ code, reason: error.code }, 'request refused by the router')
  void reply.code(ErrorStatus[code]).header('cache-control', 'no-store').type('application/json; charset=utf-8')
    .send(errorEnvelope(code, Message[code]))
}

async function errorHandling (app: FastifyInstance): Promise<void> {
  app.setErrorHandler((error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    const problem = toProblem(error)
    if (request.routeOptions.config?.countsTickets === true && request.ticketOutcomes === undefined) {
      request.ticketOutcomes = [{ product: 'unknown', outcome: problem.code }]
    }
    if (problem.code === 'UNAVAILABLE') {
      // Expected while Redis is away: the connection monitor logs the outage once when it starts and
      // once when it ends, with the count of requests refused; one line per request would flood.
      request.server.redis?.monitor.commandFailed(error)
      request.log.debug({ code: problem.code, reason: error.message }, 'request refused: unavailable')
    } else if (problem.statusCode >= 500) {
      // Logged with its stack; the answer carries only the code and a generic message.
      request.log.error({ err: error, code: problem.code }, 'request failed')
    } else {
      request.log.info({ code: problem.code, reason: problem.detail ?? error.message }, 'request refused')
    }
    if (problem.code === 'UNAUTHORIZED') reply.header('www-authenticate', 'Bearer realm="request-out"')
    if (problem.code === 'RATE_LIMITED' && reply.getHeader('retry-after') === undefined) reply.header('retry-after', '1')
    for (const [k, v] of Object.entries(problem.headers)) reply.header(k, v)
    const message = problem.code === 'INTERNAL' ? Message.INTERNAL : problem.message
    void reply.code(ErrorStatus[problem.code]).type('application/json; charset=utf-8')
      .send(errorEnvelope(problem.code, message, problem.errors))
  })

  // An unknown route is told apart from an unknown ticket (NOT_FOUND) by its own code.
  app.setNotFoundHandler((request, reply) => {
    void reply.code(404).send(errorEnvelope('ROUTE_NOT_FOUND', `${Message.ROUTE_NOT_FOUND}: ${request.method} ${request.url.split('?')[0] ?? ''}`))
  })
}

export default fp(errorHandling, { name: 'error-handling', fastify: '5.x' })
