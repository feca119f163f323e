// OpenTelemetry starts before anything that loads Redis or BullMQ: an ES module imported before
// the SDK is not instrumented. Hence nothing else is imported statically here.
import { startTracing } from '@request-out/tracing/start'

const tracing = await startTracing('request-out-worker')
const { run } = await import('./run.js')
await run(async () => await tracing?.stop())
