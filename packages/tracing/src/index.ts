export {
  activeTraceId, activeTraceparent, bullmqTelemetry, inSpan, resumeTracing, traceLogFields,
  untraced, withTraceparent
} from './telemetry.js'
