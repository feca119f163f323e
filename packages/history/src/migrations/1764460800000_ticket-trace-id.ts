import type { MigrationBuilder } from 'node-pg-migrate'

// The OpenTelemetry trace of a ticket's POST, from its `accepted` event: operators go from the
// ticket page to the trace. Null when the POST was not traced (tracing off, or not sampled).
/** @public node-pg-migrate runs it. */
export function up (pgm: MigrationBuilder): void {
  pgm.sql('ALTER TABLE tickets ADD COLUMN trace_id text')
}
