export * from './telemetry.js'
