import { register } from 'node:module'
import { markTracingStarted } from './telemetry.js'

type Env = Record<string, string | undefined>

/**
 * Whether this process exports traces. OpenTelemetry's own default would send to localhost:4318
 * whether anyone listens or not; ours exports only when an endpoint or an exporter is named, so an
 * unconfigured deployment pays nothing (no SDK, no module hooks, no spans recorded).
 */
export function tracingConfigured (env: Env): boolean {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return false
  const exporter = env.OTEL_TRACES_EXPORTER?.trim()
  if (exporter !== undefined && exporter !== '') return exporter !== 'none'
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim()) || Boolean(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim())
}

// Paths whose spans would be noise: scrapes, probes, documentation and the dashboard's assets.
const UNTRACED = /^\/(?:metrics|health|ready|live|docs|admin\/queues\/static)(?:[/?]|$)/

/** The statement a Redis span records: the command alone. Its arguments hold job data (NIKs) and ticket keys. */
const redisStatement = (command: string): string => command

/**
 * Starts OpenTelemetry from the standard OTEL_* variables when `tracingConfigured`, else does
 * nothing and returns undefined. Call it before the app is imported (main.ts imports the app
 * dynamically afterwards): ESM imports are hooked only from here on, and only for the modules the
 * instrumentations name (ioredis; undici and Fastify are observed through diagnostics channels).
 */
export async function startTracing (serviceName: string, env: Env = process.env): Promise<{ stop: () => Promise<void> } | undefined> {
  if (!tracingConfigured(env)) return undefined
  env.OTEL_SERVICE_NAME ??= serviceName
  // Metrics stay with prom-client and logs on stdout: traces only, unless an operator asks for more.
  env.OTEL_METRICS_EXPORTER ??= 'none'
  env.OTEL_LOGS_EXPORTER ??= 'none'

  // Loaded only now: a process without tracing never loads the SDK.
  const [{ createAddHookMessageChannel }, { NodeSDK }, { IORedisInstrumentation }, { UndiciInstrumentation }, { FastifyOtelInstrumentation }] = await Promise.all([
    import('import-in-the-middle'),
    import('@opentelemetry/sdk-node'),
    import('@opentelemetry/instrumentation-ioredis'),
    import('@opentelemetry/instrumentation-undici'),
    import('@fastify/otel')
  ])
  const { registerOptions, waitForAllMessagesAcknowledged } = createAddHookMessageChannel()
  register('import-in-the-middle/hook.mjs', import.meta.url, registerOptions)
  const sdk = new NodeSDK({
    instrumentations: [
      // Only inside a span: the workers' blocking waits and background checks are not ticket work.
      new IORedisInstrumentation({ requireParentSpan: true, dbStatementSerializer: redisStatement }),
      new UndiciInstrumentation({
        requireParentforSpans: true,
        // A product's URL may carry a key in its query string: the span keeps the origin and path.
        startSpanHook: (request) => ({ 'url.full': `${request.origin}${request.path.split('?')[0] ?? ''}`, 'url.query': '' })
      }),
      new FastifyOtelInstrumentation({
        registerOnInitialization: true,
        // The request span only: a span per lifecycle hook, or one for the handler inside the
        // request's, would cost as much again and say little.
        instrumentHooks: false,
        instrumentHandler: false,
        ignorePaths: ({ url }) => UNTRACED.test(url),
        // The query string may hold a token or personal data (search filters): the path only.
        requestHook: (span, request) => { span.setAttribute('url.path', request.url.split('?')[0] ?? '') }
      })
    ]
  })
  sdk.start()
  await waitForAllMessagesAcknowledged()
  markTracingStarted()
  return { stop: async () => sdk.shutdown() }
}
