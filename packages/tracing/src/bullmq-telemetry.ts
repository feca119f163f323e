import { trace, type Context } from '@opentelemetry/api'
import { suppressTracing, unsuppressTracing } from '@opentelemetry/core'
import type { BullMQOtel } from 'bullmq-otel'
import type { ContextManager, Span, Telemetry, Tracer } from 'bullmq'

// BullMQ operations that are about no job: a span for each would be a trace of its own per poll
// of every worker, for ever.
const BACKGROUND = new Set(['getNextJob', 'rateLimit', 'startStalledCheckTimer', 'moveStalledJobsToWait', 'trimEvents'])

const UNTRACED: Span<Context> = {
  // No span in the context: the Redis calls made under it are not traced either.
  setSpanOnContext: (ctx) => trace.deleteSpan(ctx),
  setAttribute: () => {},
  setAttributes: () => {},
  addEvent: () => {},
  recordException: () => {},
  end: () => {}
}

/**
 * BullMQ's telemetry with one span per job operation and nothing else: its own Redis commands
 * inside an add or a process span are not traced again (they say nothing the BullMQ span does not,
 * and cost a span each), and its background loops (fetching, stalled checks) make no spans.
 * Job processors resume tracing for their own work with `resumeTracing`.
 */
export function jobTelemetry (inner: BullMQOtel): Telemetry<Context> {
  const tracer: Tracer<Context> = {
    startSpan (name, options, ctx) {
      if (BACKGROUND.has(name.split(' ', 1)[0] ?? '')) return UNTRACED
      const span = inner.tracer.startSpan(name, options, ctx)
      return {
        setSpanOnContext: (c) => suppressTracing(span.setSpanOnContext(c)),
        setAttribute: (key, value) => span.setAttribute(key, value),
        setAttributes: (attributes) => span.setAttributes(attributes),
        addEvent: (event, attributes) => span.addEvent(event, attributes),
        recordException: (exception, time) => span.recordException(exception, time),
        end: () => span.end()
      }
    }
  }
  const contextManager: ContextManager<Context> = {
    with: (ctx, fn) => inner.contextManager.with(ctx, fn),
    active: () => inner.contextManager.active(),
    // The job carries its span's context whether or not tracing is suppressed around it.
    getMetadata: (ctx) => inner.contextManager.getMetadata(unsuppressTracing(ctx)),
    fromMetadata: (active, metadata) => inner.contextManager.fromMetadata(active, metadata)
  }
  return { tracer, contextManager }
}
