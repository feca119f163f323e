import type { MigrationBuilder } from 'node-pg-migrate'

// A redrive sends a ticket that failed for lack of an answer back to its product, also after
// Redis forgot it (its hash after RECORD_TTL_SECONDS, its job after JOBS_KEEP_FAILED_SECONDS):
// the history keeps the input of such a ticket ({"Data": …}, or {} without Data) while its outcome
// is PRODUCT_FAILED, with its personal fields erased like the record's.
/** @public node-pg-migrate runs it. */
export function up (pgm: MigrationBuilder): void {
  pgm.sql('ALTER TABLE tickets ADD COLUMN input jsonb')
}
