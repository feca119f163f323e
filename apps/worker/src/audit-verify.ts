#!/usr/bin/env node
// request-out-audit-verify: checks the audit trail's hash chain in the history database
// (DATABASE_URL). Prints what it found; exit 0 intact, 1 broken, 2 no database or no schema.
import { createHistoryPool, verifyAuditChain } from '@request-out/history'

const url = process.env.DATABASE_URL
if (url === undefined || url === '') {
  console.error('request-out-audit-verify: set DATABASE_URL to the history database')
  process.exit(2)
}
const pool = createHistoryPool(url, { timeoutMs: 60_000, max: 1, onIdleError: () => {} })
try {
  const state = await verifyAuditChain(pool)
  if (state.brokenAt === null) {
    console.log(`audit trail intact: ${state.entries} entries, head ${state.head ?? '(empty)'}`)
    process.exitCode = 0
  } else {
    console.log(`audit trail BROKEN at entry ${state.brokenAt.seq} (${state.brokenAt.why === 'changed' ? 'its content was changed' : 'an entry before it was removed'}); ${state.entries} entries before it hold`)
    process.exitCode = 1
  }
} catch (err) {
  console.error(`request-out-audit-verify: ${(err as Error).message}`)
  process.exitCode = 2
} finally {
  await pool.end()
}
