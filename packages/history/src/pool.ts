import pg from 'pg'

export interface HistoryPoolOptions {
  /** Connecting and each query must finish within this, else they fail (a stopped server is not waited for). */
  timeoutMs: number
  max?: number
  /** Told about errors of idle connections (a server restart); without a listener they would crash the process. */
  onIdleError: (err: Error) => void
}

/** A pg pool for the history database whose waits are all bounded. */
export function createHistoryPool (databaseUrl: string, options: HistoryPoolOptions): pg.Pool {
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    max: options.max ?? 10,
    connectionTimeoutMillis: options.timeoutMs,
    query_timeout: options.timeoutMs,
    idleTimeoutMillis: 30_000,
    application_name: 'request-out'
  })
  pool.on('error', options.onIdleError)
  return pool
}

/** The server's host:port and database, without credentials, for log lines and the start-up message. */
export function describeDatabase (databaseUrl: string): string {
  try {
    const u = new URL(databaseUrl)
    return `${u.hostname}:${u.port || '5432'}${u.pathname}`
  } catch {
    return 'the configured DATABASE_URL'
  }
}
