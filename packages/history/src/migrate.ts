import { join } from 'node:path'
import { runner } from 'node-pg-migrate'

/** Where the migrations are after the build (compiled from src/migrations). */
const MIGRATIONS_DIR = join(import.meta.dirname, 'migrations')

export interface MigrationLog {
  info: (message: string) => void
}

/**
 * Brings the history schema up to date (node-pg-migrate). Safe from every process at once: the
 * runner holds PostgreSQL's advisory lock and the others wait for it. Resolves the names applied.
 */
export async function migrateHistory (databaseUrl: string, log?: MigrationLog): Promise<string[]> {
  const applied = await runner({
    databaseUrl,
    dir: MIGRATIONS_DIR,
    // Only the compiled modules: not their declaration or source-map files.
    ignorePattern: '(\\..*)|(.*\\.d\\.ts)|(.*\\.map)',
    direction: 'up',
    migrationsTable: 'pgmigrations',
    advisoryLockMode: 'wait',
    checkOrder: true,
    verbose: false,
    logger: { debug: () => {}, info: () => {}, warn: (m: string) => log?.info(m), error: (m: string) => log?.info(m) }
  })
  const names = applied.map((m) => m.name)
  if (names.length > 0) log?.info(`history schema: applied ${names.join(', ')}`)
  return names
}
