import type { MigrationBuilder } from 'node-pg-migrate'

// The audit trail made tamper-evident: every row carries the SHA-256 of the row before it and of
// itself (a hash chain), appended in one order by concurrent history writers (an advisory lock
// held to commit); TRUNCATE is refused (BEFORE TRUNCATE triggers run for superusers too); the
// only deletion let through stays retention's, which may take the oldest rows only (a prefix of
// the chain) and leaves the last deleted row's hash in audit_chain_anchor. A row changed or removed
// anywhere else breaks the chain, and `verifyAuditChain` (the command and the audit page) says where.
/** @public node-pg-migrate runs it. */
export function up (pgm: MigrationBuilder): void {
  pgm.sql(`
    ALTER TABLE audit_log ADD COLUMN seq bigint, ADD COLUMN prev_hash bytea, ADD COLUMN hash bytea;

    CREATE TABLE audit_chain_anchor (
      id int PRIMARY KEY CHECK (id = 1),
      last_deleted_seq bigint,
      last_deleted_hash bytea
    );
    INSERT INTO audit_chain_anchor VALUES (1, NULL, NULL);

    -- What a row's hash covers: the previous hash and every column but the chain's own, in a text
    -- form that does not depend on the session (time in microseconds since the epoch, jsonb's own
    -- canonical text).
    CREATE FUNCTION audit_row_hash(prev bytea, r audit_log) RETURNS bytea LANGUAGE sql IMMUTABLE AS $$
      SELECT sha256(coalesce(prev, ''::bytea) || convert_to(jsonb_build_array(
        r.seq, r.event_id, floor(extract(epoch FROM r.at) * 1000000)::bigint, r.actor, r.address, r.action, r.target,
        r.client_id, r.ticket_id, r.before, r.after)::text, 'UTF8'))
    $$;

    CREATE FUNCTION audit_log_chain() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
      last_seq bigint;
      last_hash bytea;
    BEGIN
      -- One appender at a time, until it commits: the next one reads this row as the chain's end.
      PERFORM pg_advisory_xact_lock(7270101);
      SELECT seq, hash INTO last_seq, last_hash FROM audit_log ORDER BY seq DESC NULLS LAST LIMIT 1;
      IF last_seq IS NULL THEN
        SELECT last_deleted_seq, last_deleted_hash INTO last_seq, last_hash FROM audit_chain_anchor WHERE id = 1;
      END IF;
      NEW.seq := coalesce(last_seq, 0) + 1;
      NEW.prev_hash := last_hash;
      NEW.hash := audit_row_hash(last_hash, NEW);
      RETURN NEW;
    END
    $$;

    -- Rows from before the chain, chained in their id order.
    DO $$
    DECLARE
      r audit_log;
      n bigint := 0;
      last_hash bytea;
    BEGIN
      ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only;
      FOR r IN SELECT * FROM audit_log ORDER BY id LOOP
        n := n + 1;
        r.seq := n;
        UPDATE audit_log SET seq = n, prev_hash = last_hash, hash = audit_row_hash(last_hash, r) WHERE id = r.id;
        SELECT hash INTO last_hash FROM audit_log WHERE id = r.id;
      END LOOP;
      ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only;
    END
    $$;
    ALTER TABLE audit_log ALTER COLUMN seq SET NOT NULL, ALTER COLUMN hash SET NOT NULL;
    CREATE UNIQUE INDEX audit_chain_order ON audit_log (seq);

    CREATE TRIGGER audit_log_chain BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_log_chain();

    CREATE FUNCTION audit_log_no_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      RAISE EXCEPTION 'audit_log is append-only (TRUNCATE refused)';
    END
    $$;
    CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log FOR EACH STATEMENT EXECUTE FUNCTION audit_log_no_truncate();

    -- The anchor changes with retention only, and never goes back.
    CREATE FUNCTION audit_chain_anchor_guard() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP = 'UPDATE' AND current_setting('request_out.audit_retention', true) = 'on'
        AND coalesce(NEW.last_deleted_seq, 0) >= coalesce(OLD.last_deleted_seq, 0) THEN
        RETURN NEW;
      END IF;
      RAISE EXCEPTION 'audit_chain_anchor changes with retention only (% refused)', TG_OP;
    END
    $$;
    CREATE TRIGGER audit_chain_anchor_guard BEFORE UPDATE OR DELETE ON audit_chain_anchor
      FOR EACH ROW EXECUTE FUNCTION audit_chain_anchor_guard();
    CREATE TRIGGER audit_chain_anchor_no_truncate BEFORE TRUNCATE ON audit_chain_anchor
      FOR EACH STATEMENT EXECUTE FUNCTION audit_log_no_truncate();
  `)
}
