// Runs the pinned pnpm through npx, so a machine with only Node.js and npm needs nothing else.
// (corepack is not used: the registry here serves no signatures for it.)
import { spawnSync } from 'node:child_process'

export const PNPM = ['-y', 'pnpm@12.4.2']

export function pnpm (args, options = {}) {
  const result = spawnSync('npx', [...PNPM, ...args], { stdio: 'inherit', ...options })
  if (result.error) throw result.error
  return result.status ?? 1
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.exit(pnpm(process.argv.slice(2)))
}
