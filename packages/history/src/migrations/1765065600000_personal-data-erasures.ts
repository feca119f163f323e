import type { MigrationBuilder } from 'node-pg-migrate'

// An erasure asked for a ticket is kept, so it sticks: a record the history stores afterwards (its
// writer was behind, or a retry's new outcome) is stored erased in the same transaction, never in
// clear.
/** @public node-pg-migrate runs it. */
export function up (pgm: MigrationBuilder): void {
  pgm.sql(`
    CREATE TABLE personal_data_erasures (
      client_id text NOT NULL,
      ticket_id text NOT NULL,
      erased_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (client_id, ticket_id)
    );
  `)
}
