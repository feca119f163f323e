import { ROOT_CONTEXT, SpanStatusCode, context, propagation, trace, type Attributes } from '@opentelemetry/api'
import { suppressTracing, unsuppressTracing } from '@opentelemetry/core'
import { BullMQOtel } from 'bullmq-otel'
import type { Telemetry } from 'bullmq'
import { jobTelemetry } from './bullmq-telemetry.js'

const tracer = trace.getTracer('request-out')
// Set by `startTracing` once the SDK runs in this process.
let started = false

export function markTracingStarted (): void {
  started = true
}

const tracingStarted = (): boolean => started

let bullmq: Telemetry | undefined
/**
 * BullMQ's `telemetry` option: the enqueue's context travels in the job (opts.telemetry), so each
 * try's processing span is a child of the POST that enqueued it. Undefined when tracing is off, so
 * BullMQ skips its telemetry code paths altogether.
 */
export function bullmqTelemetry (): Telemetry | undefined {
  if (!tracingStarted()) return undefined
  bullmq ??= jobTelemetry(new BullMQOtel({ tracerName: 'bullmq' }))
  return bullmq
}

/** Wraps a BullMQ processor: its own work is traced again under the job's span (see jobTelemetry). */
export function resumeTracing<A extends unknown[], R> (processor: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
  if (!tracingStarted()) return processor
  return async (...args: A) => await context.with(unsuppressTracing(context.active()), async () => await processor(...args))
}

/** Runs `work` in a child span of the active one; the span records a thrown error and ends either way. */
export async function inSpan<T> (name: string, attributes: Attributes, work: () => Promise<T>): Promise<T> {
  if (!tracingStarted()) return await work()
  return await tracer.startActiveSpan(name, { attributes }, async (span) => {
    try {
      return await work()
    } catch (err) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) })
      throw err
    } finally {
      span.end()
    }
  })
}

/** Runs `work` with tracing suppressed: shared work that belongs to no one request's trace. */
export function untraced<T> (work: () => T): T {
  if (!tracingStarted()) return work()
  return context.with(suppressTracing(context.active()), work)
}

/** The active trace's id, or undefined outside a sampled span. */
export function activeTraceId (): string | undefined {
  const span = trace.getActiveSpan()
  if (span === undefined || !span.isRecording()) return undefined
  return span.spanContext().traceId
}

/** The active span as a W3C `traceparent`, for work that continues outside this process later. */
export function activeTraceparent (): string | undefined {
  if (trace.getActiveSpan() === undefined) return undefined
  const carrier: Record<string, string> = {}
  propagation.inject(context.active(), carrier)
  return carrier.traceparent
}

/** Runs `work` in the context a `traceparent` names (from `activeTraceparent`), or as is without one. */
export function withTraceparent<T> (traceparent: string | undefined, work: () => T): T {
  if (traceparent === undefined || traceparent === '' || !tracingStarted()) return work()
  return context.with(propagation.extract(ROOT_CONTEXT, { traceparent }), work)
}

/** pino `mixin`: every log line written inside a span carries its trace and span ids. */
export function traceLogFields (): Record<string, string> {
  const span = trace.getActiveSpan()
  if (span === undefined) return {}
  const { traceId, spanId } = span.spanContext()
  return { trace_id: traceId, span_id: spanId }
}
