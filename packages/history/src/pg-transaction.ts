import type pg from 'pg'

/**
 * Runs `work` in one transaction on a client of its own; a client whose server went away is thrown
 * away rather than reused.
 */
export async function transaction<T> (pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect()
  // A checked-out client has no listener of the pool's: a server that goes away between two
  // queries would otherwise be an unhandled 'error' that ends the process. The failing query
  // rejects anyway, and the client is thrown away below rather than reused.
  const onError = (): void => {}
  client.on('error', onError)
  let failure: Error | undefined
  try {
    await client.query('BEGIN')
    const result = await work(client)
    await client.query('COMMIT')
    return result
  } catch (err) {
    failure = err instanceof Error ? err : new Error(String(err))
    await client.query('ROLLBACK').catch(() => {})
    throw err
  } finally {
    client.removeListener('error', onError)
    client.release(failure)
  }
}
