// `npm run soak`: install, build, then the fault soak (bench/src/soak.ts). Not part of `npm test`.
import { spawnSync } from 'node:child_process'
import { resolve } from 'node:path'
import { installAndBuild } from './lib/workspace.mjs'
import { runOnSupportedNode } from './lib/node-runtime.mjs'

await runOnSupportedNode(import.meta.filename)

process.chdir(resolve(import.meta.dirname, '..'))
installAndBuild()
const r = spawnSync(process.execPath, ['bench/dist/soak.js'], { stdio: 'inherit', env: process.env })
process.exit(r.status ?? 1)
