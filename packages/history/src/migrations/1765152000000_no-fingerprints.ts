import type { MigrationBuilder } from 'node-pg-migrate'

// A ticket's fingerprint is made of its fields, personal ones included: stored unsalted, a NIK was
// found from it by trying the values a region and birth date leave. Only the intake's check of a
// re-POST needs it, and that reads the ticket's Redis hash: the history keeps none, and the
// fingerprints the `accepted` events brought go from their details too.
/** @public node-pg-migrate runs it. */
export function up (pgm: MigrationBuilder): void {
  pgm.sql(`
    ALTER TABLE tickets DROP COLUMN fingerprint;
    UPDATE ticket_events SET details = details - 'fp' WHERE type = 'accepted' AND details ? 'fp';
  `)
}
