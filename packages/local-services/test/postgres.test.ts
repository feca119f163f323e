import t from 'tap'
import pg from 'pg'
import { ensureDatabase, startEmbeddedPostgres } from '../src/index.js'

// What `npm start` falls back to on a machine with only Node.js: PostgreSQL from npm.
t.test('an embedded PostgreSQL starts, takes a database and queries, and stops', async (t) => {
  const server = await startEmbeddedPostgres()
  t.teardown(server.stop)
  t.equal(server.source, 'embedded PostgreSQL')
  const url = await ensureDatabase(server.url, 'request_out')
  t.equal(await ensureDatabase(server.url, 'request_out'), url, 'a second call finds it')
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  const { rows } = await client.query<{ db: string }>('SELECT current_database() AS db')
  await client.end()
  t.equal(rows[0]?.db, 'request_out')
})
