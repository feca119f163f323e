import type { MigrationBuilder } from 'node-pg-migrate'

// The first schema of the ticket history. A migration, once released, is never edited: a change
// is a new file with a later timestamp.
/** @public node-pg-migrate runs it. */
export function up (pgm: MigrationBuilder): void {
  pgm.sql(`
    -- One row per acceptance of a ticket (a TicketId may be accepted again once its Redis copy has
    -- expired), kept current by the history writer from the ticket event streams.
    CREATE TABLE tickets (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      client_id text NOT NULL,
      ticket_id text NOT NULL,
      accepted_at timestamptz NOT NULL,
      product text NOT NULL DEFAULT '',
      fingerprint text,
      request_id text,
      -- SUCCESS for a record, its failure code, or IN_PROCESS until the record arrives.
      code text NOT NULL DEFAULT 'IN_PROCESS',
      record jsonb,
      finished_at timestamptz,
      attempts integer NOT NULL DEFAULT 0,
      personal_data_erased_at timestamptz,
      UNIQUE (client_id, ticket_id, accepted_at)
    );
    -- Search: newest first, alone and with a client; keyset pagination on (accepted_at, id).
    CREATE INDEX tickets_newest ON tickets (accepted_at DESC, id DESC);
    CREATE INDEX tickets_by_ticket_id ON tickets (ticket_id text_pattern_ops, accepted_at DESC);
    CREATE INDEX tickets_by_client ON tickets (client_id, accepted_at DESC, id DESC);
    CREATE INDEX tickets_by_client_ticket_id ON tickets (client_id, ticket_id text_pattern_ops, accepted_at DESC);
    CREATE INDEX tickets_by_product ON tickets (product, accepted_at DESC, id DESC);
    CREATE INDEX tickets_by_client_product ON tickets (client_id, product, accepted_at DESC, id DESC);
    CREATE INDEX tickets_by_code ON tickets (code, accepted_at DESC, id DESC);
    CREATE INDEX tickets_by_client_code ON tickets (client_id, code, accepted_at DESC, id DESC);
    -- The erasure sweep: finished records whose personal fields are still there.
    CREATE INDEX tickets_to_erase ON tickets (finished_at) WHERE personal_data_erased_at IS NULL AND record IS NOT NULL;

    -- Every event once: its id is the stream entry's (group and entry id), so a batch written twice
    -- (a writer killed before it acknowledged) adds nothing.
    CREATE TABLE ticket_events (
      event_id text PRIMARY KEY,
      client_id text NOT NULL,
      ticket_id text NOT NULL,
      accepted_at timestamptz NOT NULL,
      type text NOT NULL,
      at timestamptz NOT NULL,
      details jsonb NOT NULL DEFAULT '{}'
    );
    CREATE INDEX ticket_events_of_ticket ON ticket_events (client_id, ticket_id, accepted_at, at);
    CREATE INDEX ticket_events_by_time ON ticket_events (at);

    -- Operators' writes. Append-only: the trigger below refuses every UPDATE, and every DELETE but
    -- retention's (which sets request_out.audit_retention for its own transaction).
    CREATE TABLE audit_log (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      event_id text NOT NULL UNIQUE,
      at timestamptz NOT NULL,
      actor text NOT NULL,
      address text NOT NULL,
      action text NOT NULL,
      target text NOT NULL,
      client_id text,
      ticket_id text,
      before jsonb,
      after jsonb
    );
    CREATE INDEX audit_newest ON audit_log (at DESC, id DESC);
    CREATE INDEX audit_by_actor ON audit_log (actor, at DESC, id DESC);
    CREATE INDEX audit_by_action ON audit_log (action, at DESC, id DESC);
    CREATE INDEX audit_of_ticket ON audit_log (client_id, ticket_id, at) WHERE ticket_id IS NOT NULL;

    CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP = 'DELETE' AND current_setting('request_out.audit_retention', true) = 'on' THEN
        RETURN OLD;
      END IF;
      RAISE EXCEPTION 'audit_log is append-only (% refused)', TG_OP;
    END
    $$;
    CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
      FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
  `)
}
