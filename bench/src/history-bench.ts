// The history's search at scale: 1,000,000 tickets in PostgreSQL, each search filter alone and with
// a client, p99 of the query as the admin API runs it (HistoryStore.search through a pg pool).
import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { HistoryStore, migrateHistory, type TicketFilter } from '@request-out/history'
import { ensureDatabase } from '@request-out/local-services'
import { percentile } from './report.js'

const TICKETS = 1_000_000
const CLIENTS = 1000
const PRODUCTS = ['p/a/1', 'p/b/2', 'p/c/3', 'p/d/4', 'p/e/5']
const RUNS = 200

/** A database of the bench's own on `serverUrl`, schema applied; `drop` removes it. */
export async function benchDatabase (serverUrl: string): Promise<{ url: string, drop: () => Promise<void> }> {
  const name = `request_out_bench_${randomBytes(4).toString('hex')}`
  const url = await ensureDatabase(serverUrl, name)
  await migrateHistory(url)
  return {
    url,
    drop: async () => {
      const admin = new pg.Client({ connectionString: serverUrl })
      await admin.connect()
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
      await admin.end()
    }
  }
}

/** p99 (and p50) in ms of each kind of search over 1,000,000 stored tickets. */
export async function searchAtScale (databaseUrl: string, log: (msg: string) => void): Promise<Record<string, { p50Ms: number, p99Ms: number }>> {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 4 })
  try {
    log(`search: storing ${TICKETS.toLocaleString('en')} tickets (one every 30 s over ~347 days, ${CLIENTS} clients, ${PRODUCTS.length} products)`)
    // Codes: 1 in 10 PRODUCT_FAILED, 1 in 97 still IN_PROCESS, the rest SUCCESS.
    await pool.query(`
      INSERT INTO tickets (client_id, ticket_id, accepted_at, product, code, finished_at, attempts)
      SELECT 'client-' || (i % ${CLIENTS}), 'T-' || i, now() - i * interval '30 seconds',
        (ARRAY['${PRODUCTS.join("','")}'])[1 + i % ${PRODUCTS.length}],
        CASE WHEN i % 97 = 0 THEN 'IN_PROCESS' WHEN i % 10 = 0 THEN 'PRODUCT_FAILED' ELSE 'SUCCESS' END,
        CASE WHEN i % 97 = 0 THEN NULL ELSE now() - i * interval '30 seconds' + interval '2 seconds' END, 1
      FROM generate_series(1, ${TICKETS}) AS i`)
    await pool.query('VACUUM ANALYZE tickets')
    const store = new HistoryStore(pool)
    const rand = (n: number): number => Math.floor(Math.random() * n)
    const client = (): string => `client-${rand(CLIENTS)}`
    const day = (): { From: string, To: string } => {
      const to = Date.now() - rand(340) * 86_400_000
      return { From: new Date(to - 86_400_000).toISOString(), To: new Date(to).toISOString() }
    }
    const kinds: Record<string, () => TicketFilter> = {
      'newest (no filter)': () => ({}),
      TicketId: () => ({ TicketId: `T-${1 + rand(TICKETS)}` }),
      'TicketId prefix': () => ({ TicketId: `T-${1 + rand(TICKETS / 100)}*` }),
      ClientId: () => ({ ClientId: client() }),
      Product: () => ({ Product: PRODUCTS[rand(PRODUCTS.length)] as string }),
      'Code (PRODUCT_FAILED)': () => ({ Code: 'PRODUCT_FAILED' }),
      'Code (IN_PROCESS, rare)': () => ({ Code: 'IN_PROCESS' }),
      'From/To (one day)': () => day(),
      'ClientId + TicketId prefix': () => ({ ClientId: client(), TicketId: `T-${1 + rand(TICKETS / 100)}*` }),
      'ClientId + Product': () => ({ ClientId: client(), Product: PRODUCTS[rand(PRODUCTS.length)] as string }),
      'ClientId + Code': () => ({ ClientId: client(), Code: 'IN_PROCESS' }),
      'ClientId + From/To': () => ({ ClientId: client(), ...day() })
    }
    const results: Record<string, { p50Ms: number, p99Ms: number }> = {}
    for (const [name, filter] of Object.entries(kinds)) {
      for (let i = 0; i < 20; i++) await store.search(filter()) // warm the cache for this index
      const times: number[] = []
      for (let i = 0; i < RUNS; i++) {
        const f = filter()
        let at = process.hrtime.bigint()
        const page = await store.search(f)
        times.push(Number(process.hrtime.bigint() - at) / 1e6)
        // Every other run, the next page as well: a keyset page deep in the results costs what the first does.
        if (i % 2 === 0 && page.nextCursor !== null) {
          at = process.hrtime.bigint()
          await store.search({ ...f, Cursor: page.nextCursor })
          times.push(Number(process.hrtime.bigint() - at) / 1e6)
        }
      }
      times.sort((a, b) => a - b)
      results[name] = { p50Ms: Math.round(percentile(times, 0.5) * 10) / 10, p99Ms: Math.round(percentile(times, 0.99) * 10) / 10 }
    }
    return results
  } finally {
    await pool.end()
  }
}
