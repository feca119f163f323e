// `npm test`: install, build, type-check, find or start Redis, run every tap test in the
// workspace, and end with one plain line `N passed, N failed` that CI can read.
import { spawn } from 'node:child_process'
import { resolve } from 'node:path'
import { PNPM, pnpm } from './pnpm.mjs'
import { installAndBuild, step } from './lib/workspace.mjs'
import { runOnSupportedNode } from './lib/node-runtime.mjs'

await runOnSupportedNode(import.meta.filename)

const root = resolve(import.meta.dirname, '..')
process.chdir(root)

installAndBuild()
step('type-check tests (tsc -p tsconfig.test.json)', () => pnpm(['exec', 'tsc', '-p', 'tsconfig.test.json']))
step('lint (eslint: neostandard with typescript-eslint)', () => pnpm(['exec', 'eslint', '.']))
step('dead code (knip: unused files, exports and dependencies)', () => pnpm(['exec', 'knip']))

// Imported once built: a fresh clone has no dist/ before installAndBuild().
const { locatePostgres, locateRedis } = await import('../packages/local-services/dist/index.js')
let redis
let postgres
try {
  redis = await locateRedis((m) => console.log(`    ${m}`))
  postgres = await locatePostgres((m) => console.log(`    ${m}`))
} catch (err) {
  console.error(err.message)
  await redis?.stop()
  console.log('0 passed, 1 failed')
  process.exit(1)
}
console.log(`\n==> tests against Redis at ${redis.url} (${redis.source}) and PostgreSQL (${postgres.source}); each test makes its own database`)

const files = process.argv.slice(2)
// With no file arguments tap runs every *.test.ts of the workspace (.taprc's include).
const args = [...PNPM, 'exec', 'tap', '--reporter=tap', ...files]
const child = spawn('npx', args, {
  stdio: ['ignore', 'pipe', 'inherit'],
  env: {
    ...withoutDatabaseUrl(process.env),
    REDIS_URL: redis.url,
    // The server tests make their databases on; apps started by tests get DATABASE_URL only when a test gives it.
    TEST_DATABASE_URL: postgres.url,
    // tap's TypeScript loader (ts-node) reads this; without it the tests would compile as CommonJS.
    TS_NODE_PROJECT: resolve(root, 'tsconfig.test.json')
  }
})

// tap's raw output ends with a comment such as `# { total: 120, pass: 118, fail: 1, skip: 1 }`.
let summary
let tail = ''
child.stdout.on('data', (chunk) => {
  process.stdout.write(chunk)
  tail = (tail + chunk.toString()).slice(-4096)
})
const code = await new Promise((resolve) => child.on('close', resolve))
for (const line of tail.split('\n').reverse()) {
  const m = /^# \{ (total: .*) \}$/.exec(line.trim())
  if (m) { summary = Object.fromEntries(m[1].split(', ').map((kv) => kv.split(': ')).map(([k, v]) => [k, Number(v)])); break }
}
await redis.stop()
await postgres.stop()

const passed = summary?.pass ?? 0
const failed = (summary?.fail ?? 0) + (summary === undefined || (code !== 0 && !summary.fail) ? 1 : 0)
const skipped = (summary?.skip ?? 0) + (summary?.todo ?? 0)
console.log(`\n${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}`)
process.exit(failed > 0 ? 1 : 0)

function withoutDatabaseUrl (env) {
  const { DATABASE_URL: _ignored, ...rest } = env
  return rest
}
