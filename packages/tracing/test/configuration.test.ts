import t from 'tap'
import { tracingConfigured } from '../src/start.js'
import { activeTraceId, activeTraceparent, bullmqTelemetry, inSpan, resumeTracing, traceLogFields, untraced, withTraceparent } from '../src/index.js'

t.test('tracing starts only when an endpoint or an exporter is named, and never when disabled', async (t) => {
  t.equal(tracingConfigured({}), false, 'nothing configured: no SDK (OpenTelemetry alone would export to localhost:4318)')
  t.equal(tracingConfigured({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }), true)
  t.equal(tracingConfigured({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces' }), true)
  t.equal(tracingConfigured({ OTEL_TRACES_EXPORTER: 'console' }), true)
  t.equal(tracingConfigured({ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }), false, 'exporter none wins')
  t.equal(tracingConfigured({ OTEL_SDK_DISABLED: 'true', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }), false, 'OTEL_SDK_DISABLED wins')
  t.equal(tracingConfigured({ OTEL_SDK_DISABLED: 'false', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }), true)
  t.equal(tracingConfigured({ OTEL_EXPORTER_OTLP_ENDPOINT: '  ' }), false, 'a blank endpoint is none')
})

t.test('with tracing off, the helpers cost nothing and change nothing', async (t) => {
  t.equal(bullmqTelemetry(), undefined, 'BullMQ gets no telemetry option')
  t.equal(await inSpan('work', {}, async () => 42), 42)
  t.equal(activeTraceId(), undefined)
  t.equal(activeTraceparent(), undefined)
  t.same(traceLogFields(), {}, 'log lines get no trace fields')
  t.equal(withTraceparent('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', () => 'ran'), 'ran')
  t.equal(untraced(() => 'ran'), 'ran')
  const processor = async (n: number): Promise<number> => n + 1
  t.equal(resumeTracing(processor), processor, 'processors are not wrapped')
})
