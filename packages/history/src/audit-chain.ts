import type pg from 'pg'

/** What a check of the audit trail's hash chain found. */
export interface AuditChainState {
  /** Rows checked, from the oldest kept to the newest. */
  entries: number
  /** The newest row's hash (hex): record it elsewhere now and then, and a rewrite of the whole chain shows too. */
  head: string | null
  /** The first row whose hash or link does not hold (changed, or a row before it removed), if any. */
  brokenAt: { seq: string, why: 'changed' | 'unlinked' } | null
}

const PAGE = 5000

/**
 * Walks the audit trail in its chain order, a page at a time: each row's hash must be what its
 * columns and the previous hash give (the database computes it, as the insert trigger did), and
 * its previous hash the hash of the row before it (the oldest kept: retention's anchor).
 */
export async function verifyAuditChain (pool: pg.Pool): Promise<AuditChainState> {
  const anchor = await pool.query<{ seq: string | null, hash: Buffer | null }>('SELECT last_deleted_seq AS seq, last_deleted_hash AS hash FROM audit_chain_anchor WHERE id = 1')
  let previous: Buffer | null = anchor.rows[0]?.hash ?? null
  let after = anchor.rows[0]?.seq ?? '0'
  let entries = 0
  for (;;) {
    const { rows } = await pool.query<{ seq: string, prev_hash: Buffer | null, hash: Buffer, expected: Buffer }>(
      `SELECT seq, prev_hash, hash, audit_row_hash(prev_hash, a) AS expected FROM audit_log a
       WHERE seq > $1 ORDER BY seq LIMIT $2`, [after, PAGE])
    for (const row of rows) {
      const linked = previous === null ? row.prev_hash === null : row.prev_hash !== null && row.prev_hash.equals(previous)
      if (!linked) return { entries, head: hex(previous), brokenAt: { seq: row.seq, why: 'unlinked' } }
      if (!row.hash.equals(row.expected)) return { entries, head: hex(previous), brokenAt: { seq: row.seq, why: 'changed' } }
      previous = row.hash
      after = row.seq
      entries++
    }
    if (rows.length < PAGE) return { entries, head: hex(previous), brokenAt: null }
  }
}

const hex = (b: Buffer | null): string | null => b === null ? null : b.toString('hex')
