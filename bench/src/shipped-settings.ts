// The NODE_OPTIONS the deployment ships, read from docker-compose.yml (deploy/k8s sets the same; a
// test holds them equal), so the bench measures what runs in production, not a constant of its own.
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const COMPOSE = fileURLToPath(new URL('../../docker-compose.yml', import.meta.url))

/** The default of `NODE_OPTIONS: ${NAME:-default}` in the service's environment. */
export function shippedNodeOptions (service: 'intake' | 'worker' | 'history'): string {
  const text = readFileSync(COMPOSE, 'utf8')
  const block = text.slice(text.indexOf(`\n  ${service}:\n`))
  const value = /\n {6}NODE_OPTIONS: \$\{[A-Z_]+:-([^}]*)\}/.exec(block)?.[1]
  if (value === undefined) throw new Error(`docker-compose.yml sets no NODE_OPTIONS for ${service}`)
  return value
}
