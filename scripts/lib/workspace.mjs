// Install and build steps shared by `npm start`, `npm test` and `npm run bench`.
import { pnpm } from '../pnpm.mjs'

export function step (title, fn) {
  const started = Date.now()
  process.stdout.write(`\n==> ${title}\n`)
  const status = fn()
  if (status !== 0) {
    console.error(`\n${title} failed (exit ${status})`)
    process.exit(status || 1)
  }
  console.log(`    (${((Date.now() - started) / 1000).toFixed(1)} s)`)
}

export function installAndBuild () {
  // --frozen-lockfile: CI and fresh machines get exactly the committed versions.
  step('install dependencies (pnpm 12.4.2)', () => pnpm(['install', '--frozen-lockfile', '--reporter=append-only']))
  step('build (tsc -b)', () => pnpm(['exec', 'tsc', '-b']))
}
