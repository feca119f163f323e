import type pg from 'pg'
import type { TicketEnvelope } from '@request-out/contracts'
import { erasePersonalFields } from './personal-data.js'
import { transaction } from './pg-transaction.js'

const DAY_MS = 86_400_000

/** A stored ticket's values that hold personal data: its record and the input kept for a redrive. */
export interface PersonalRow { id: string, product: string, record: TicketEnvelope, input: unknown }

/** The columns a PersonalRow is read from. */
export const PERSONAL_COLUMNS = 'id, product, record, input'

/** Stores a record's and its kept input's erased forms, marking when. */
export async function storeErased (row: PersonalRow, fieldsOf: (product: string) => ReadonlySet<string>, db: pg.Pool | pg.PoolClient): Promise<void> {
  const fields = fieldsOf(row.product)
  await db.query('UPDATE tickets SET record = $2, input = $3, personal_data_erased_at = now() WHERE id = $1',
    [row.id, JSON.stringify(erasePersonalFields(row.record, fields)), row.input === null ? null : JSON.stringify(erasePersonalFields(row.input, fields))])
}

/**
 * Erases the personal fields of every stored record of the ticket (each acceptance) now.
 * Resolves how many records were erased.
 */
export async function erase (pool: pg.Pool, clientId: string, ticketId: string, fieldsOf: (product: string) => ReadonlySet<string>): Promise<number> {
  // Kept first: a record the writers store from now on is stored erased (it sticks).
  await pool.query('INSERT INTO personal_data_erasures (client_id, ticket_id) VALUES ($1, $2) ON CONFLICT DO NOTHING', [clientId, ticketId])
  const { rows } = await pool.query<PersonalRow>(
    `SELECT ${PERSONAL_COLUMNS} FROM tickets WHERE client_id = $1 AND ticket_id = $2 AND record IS NOT NULL`, [clientId, ticketId])
  for (const row of rows) await storeErased(row, fieldsOf, pool)
  return rows.length
}

/**
 * The retention sweep's erasure: records finished more than `days` ago, in batches, without
 * long locks (rows another sweep holds are skipped). Resolves how many were erased.
 */
export async function eraseOlderThan (pool: pg.Pool, days: number, fieldsOf: (product: string) => ReadonlySet<string>, batch = 500): Promise<number> {
  let total = 0
  for (;;) {
    const n = await transaction(pool, async (client) => {
      const { rows } = await client.query<PersonalRow>(
        `SELECT ${PERSONAL_COLUMNS} FROM tickets
         WHERE personal_data_erased_at IS NULL AND record IS NOT NULL AND finished_at < $1
         LIMIT $2 FOR UPDATE SKIP LOCKED`, [new Date(Date.now() - days * DAY_MS), batch])
      for (const row of rows) await storeErased(row, fieldsOf, client)
      return rows.length
    })
    total += n
    if (n < batch) return total
  }
}

/**
 * Retention: tickets and their events accepted more than `ticketDays` ago, audit rows older than
 * `auditDays`, deleted in batches (short transactions, no long locks). Resolves the rows deleted.
 */
export async function deleteExpired (pool: pg.Pool, ticketDays: number, auditDays: number, batch = 5000): Promise<number> {
  let total = 0
  const ticketsBefore = new Date(Date.now() - ticketDays * DAY_MS)
  const auditBefore = new Date(Date.now() - auditDays * DAY_MS)
  const sweep = async (sql: string, before: Date, prepare?: string): Promise<void> => {
    for (;;) {
      const n = await transaction(pool, async (client) => {
        if (prepare !== undefined) await client.query(prepare)
        return (await client.query(sql, [before, batch])).rowCount ?? 0
      })
      total += n
      if (n < batch) return
    }
  }
  await sweep('DELETE FROM tickets WHERE id IN (SELECT id FROM tickets WHERE accepted_at < $1 LIMIT $2)', ticketsBefore)
  // An erasure is kept as long as the tickets it may apply to.
  await sweep('DELETE FROM personal_data_erasures WHERE ctid IN (SELECT ctid FROM personal_data_erasures WHERE erased_at < $1 LIMIT $2)', ticketsBefore)
  // By the events' own time (indexed): an event is never older than its ticket's acceptance.
  await sweep('DELETE FROM ticket_events WHERE event_id IN (SELECT event_id FROM ticket_events WHERE at < $1 LIMIT $2)', ticketsBefore)
  // The only deletion the audit trail's trigger lets through (see the migrations): the oldest
  // rows of the chain, up to the first one that is not old enough (so a row stays a little past
  // its retention when a newer one was stored before it), the last one's hash kept as the anchor.
  await sweep(`
    WITH cutoff AS (
      SELECT coalesce((SELECT min(seq) FROM audit_log WHERE at >= $1), (SELECT max(seq) + 1 FROM audit_log)) AS below
    ), gone AS (
      DELETE FROM audit_log WHERE seq IN (SELECT seq FROM audit_log WHERE seq < (SELECT below FROM cutoff) ORDER BY seq LIMIT $2)
      RETURNING seq, hash
    ), anchored AS (
      UPDATE audit_chain_anchor SET last_deleted_seq = last.seq, last_deleted_hash = last.hash
      FROM (SELECT seq, hash FROM gone ORDER BY seq DESC LIMIT 1) AS last WHERE id = 1 RETURNING 1
    )
    SELECT seq FROM gone`, auditBefore, "SELECT set_config('request_out.audit_retention', 'on', true)")
  return total
}
