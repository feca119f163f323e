// `npm run bench`: install, build, then the benchmark (bench/src/run.ts); writes bench/results.json (git ignores it; docs/performance.md holds the published table).
import { spawnSync } from 'node:child_process'
import { resolve } from 'node:path'
import { installAndBuild } from './lib/workspace.mjs'
import { runOnSupportedNode } from './lib/node-runtime.mjs'

await runOnSupportedNode(import.meta.filename)

process.chdir(resolve(import.meta.dirname, '..'))
installAndBuild()
const r = spawnSync(process.execPath, ['bench/dist/run.js', ...process.argv.slice(2)], { stdio: 'inherit', env: process.env })
process.exit(r.status ?? 1)
