import { spawnSync } from 'node:child_process'

/** `docker compose` (v2 plugin) or `docker-compose` (v1), whichever this machine has; undefined if none. */
export function composeCommand (): string[] | undefined {
  if (spawnSync('docker', ['compose', 'version'], { stdio: 'ignore' }).status === 0) return ['docker', 'compose']
  if (spawnSync('docker-compose', ['version'], { stdio: 'ignore' }).status === 0) return ['docker-compose']
  return undefined
}
