// OpenTelemetry starts before anything that loads Redis, BullMQ or Fastify: an ES module imported
// before the SDK is not instrumented. Hence nothing else is imported statically here.
import { startTracing } from '@request-out/tracing/start'

const tracing = await startTracing('request-out-intake')
const { serve } = await import('./serve.js')
await serve(async () => await tracing?.stop())
