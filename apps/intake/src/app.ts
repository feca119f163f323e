import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type RawReplyDefaultExpression, type RawRequestDefaultExpression, type RawServerDefault } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { levels, type DestinationStream, type LoggerOptions } from 'pino'
import type { IntakeConfig } from './config.js'
import { MAX_CLIENT_ID_LENGTH, MAX_TICKET_ID_LENGTH } from '@request-out/contracts'
import { requestIdFor } from './request-id.js'
import { intakeLoggerOptions } from './logger.js'
import configPlugin from './plugins/config.js'
import errorHandling, { clientErrorHandler, frameworkErrors } from './plugins/error-handling.js'
import swaggerPlugin from './plugins/swagger.js'
import redisPlugin from './plugins/redis.js'
import metricsPlugin from './plugins/metrics.js'
import revocationsPlugin from './plugins/revocations.js'
import authPlugin from './plugins/auth.js'
import loginGuardPlugin from './plugins/login-guard.js'
import recordsPlugin from './plugins/records.js'
import historyPlugin from './plugins/history.js'
import corsPlugin from './plugins/cors.js'
import auditPlugin from './plugins/audit.js'
import ticketHistoryPlugin from './plugins/ticket-history.js'
import operatorActionsPlugin from './plugins/operator-actions.js'
import webhooksPlugin from './plugins/webhooks.js'
import ticketQueuesPlugin from './plugins/ticket-queues.js'
import availabilityPlugin from './plugins/availability.js'
import upstreamBreakersPlugin from './plugins/upstream-breakers.js'
import redrivesPlugin from './plugins/redrives.js'
import clientRatePlugin from './plugins/client-rate.js'
import ticketIntakePlugin from './plugins/ticket-intake.js'
import streamTokensPlugin from './plugins/stream-tokens.js'
import eventStreamsPlugin from './plugins/event-streams.js'
import healthRoutes from './routes/health.js'
import metricsRoutes from './routes/metrics.js'
import loginRoutes from './routes/login.js'
import protectedRoutes from './routes/v1/index.js'
import eventRoutes from './routes/v1/events.js'
import adminRoutes from './routes/admin/index.js'

export interface BuildOptions {
  /** pino options (`intakeLoggerOptions` at the configured level unless given), or `false` for none. */
  logger?: LoggerOptions | false
  /** Where log lines go (tests capture them here). */
  logStream?: DestinationStream
}

/** The intake as built: a Fastify instance whose routes are typed from their TypeBox schemas. */
export type IntakeApp = FastifyInstance<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, FastifyBaseLogger, TypeBoxTypeProvider>

/** The whole intake as a plugin tree, without listening: tests `inject` into exactly this. */
export async function buildApp (config: IntakeConfig, options: BuildOptions = {}): Promise<IntakeApp> {
  const logger = options.logger ?? intakeLoggerOptions(config.env.LOG_LEVEL)
  const app = Fastify({
    logger: logger === false ? false : { ...logger, ...(options.logStream === undefined ? {} : { stream: options.logStream }) },
    genReqId: requestIdFor,
    // `requestId` is the field name the workers use too, so one search finds a ticket everywhere.
    // One access line per request (the onResponse hook below) instead of Fastify's two.
    logController: new LogController({ requestIdLogLabel: 'requestId', disableRequestLogging: true }),
    bodyLimit: config.env.BODY_LIMIT_BYTES,
    trustProxy: config.env.TRUST_PROXY,
    // Refuse unknown fields instead of silently dropping them, and never coerce types: "12" is not 12.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: true } },
    return503OnClosing: true,
    // One path parameter holds at most a client id (admin paths) or a TicketId, URL-encoded: up to
    // 4 UTF-8 bytes a character, 3 characters a byte. Fastify's default of 100 cut long TicketIds.
    routerOptions: { maxParamLength: Math.max(MAX_CLIENT_ID_LENGTH, MAX_TICKET_ID_LENGTH) * 12 },
    frameworkErrors,
    clientErrorHandler,
    // Slow and idle connections are not held forever. The request timeout sits
    // above the longest long poll (30 s); the keep-alive timeout above a load balancer's idle timeout.
    requestTimeout: config.env.HTTP_REQUEST_TIMEOUT_MS,
    keepAliveTimeout: config.env.HTTP_KEEP_ALIVE_TIMEOUT_MS,
    connectionTimeout: config.env.HTTP_REQUEST_TIMEOUT_MS + 5000,
    http: {
      headersTimeout: config.env.HTTP_HEADERS_TIMEOUT_MS,
      // Node checks header and request timeouts on this tick (30 s by default, longer than the timeouts).
      connectionsCheckingInterval: Math.min(1000, config.env.HTTP_HEADERS_TIMEOUT_MS)
    }
  }).withTypeProvider<TypeBoxTypeProvider>()

  // JSON only: text/plain bodies get 415 rather than a confusing validation error.
  app.removeContentTypeParser('text/plain')
  app.addHook('onSend', async (request, reply) => {
    void reply.header('x-request-id', request.id)
    // Answers carry tokens, tickets and personal data, and 404/410 are cacheable by default in HTTP:
    // nothing is stored by a browser or a proxy unless a route says otherwise (static docs assets).
    if (!reply.hasHeader('cache-control')) void reply.header('cache-control', 'no-store')
  })

  // The access line: method, URL (query values redacted), status, time, and what a route added
  // (a submitted ticket's ids and outcome). Routes that log at warn (probes, /metrics) skip it.
  app.decorateRequest('logFields', undefined)
  // Not registered below `info` (LOG_LEVEL is read once, at start): the hook would build the line's
  // object on every request for pino to drop.
  if (!config.benchOff.has('access-log') && (levels.values[app.log.level] ?? Infinity) <= (levels.values.info as number)) {
    app.addHook('onResponse', async (request, reply) => {
      request.log.info({ req: request, res: { statusCode: reply.statusCode }, responseTime: Math.round(reply.elapsedTime * 10) / 10, ...request.logFields }, 'request completed')
    })
  }

  await app.register(configPlugin, config)
  await app.register(errorHandling)
  await app.register(corsPlugin)
  await app.register(swaggerPlugin)
  await app.register(redisPlugin)
  await app.register(metricsPlugin)
  await app.register(revocationsPlugin)
  await app.register(authPlugin)
  await app.register(loginGuardPlugin)
  await app.register(recordsPlugin)
  await app.register(historyPlugin)
  await app.register(auditPlugin)
  await app.register(webhooksPlugin)
  await app.register(ticketQueuesPlugin)
  await app.register(redrivesPlugin)
  await app.register(ticketHistoryPlugin)
  await app.register(availabilityPlugin)
  await app.register(clientRatePlugin)
  await app.register(ticketIntakePlugin)
  await app.register(operatorActionsPlugin)
  await app.register(upstreamBreakersPlugin)
  await app.register(streamTokensPlugin)
  await app.register(eventStreamsPlugin)

  await app.register(healthRoutes)
  await app.register(metricsRoutes)
  await app.register(loginRoutes)
  await app.register(protectedRoutes, { prefix: '/v1' })
  await app.register(eventRoutes, { prefix: '/v1' })
  await app.register(adminRoutes)

  for (const warning of config.warnings) app.log.warn(warning)
  return app
}
