// Runs a script of the bench's own in a child process, and one load-generator run in its own
// process (so autocannon never shares an event loop with what it measures).
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const HERE = fileURLToPath(new URL('.', import.meta.url))

export interface LoadResult { requestsPerSecond: number, total: number, latencyP50: number, latencyP99: number, non2xx: number, errors: number, sent: number }

export function runNode (script: string, args: string[], env: Record<string, string> = {}): ChildProcess & { output: () => string } {
  let out = ''
  const child = spawn(process.execPath, [`${HERE}${script}`, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  child.stdout.on('data', (c: Buffer) => { out += c.toString() })
  child.stderr.on('data', (c: Buffer) => { out += c.toString() })
  return Object.assign(child, { output: () => out })
}

export async function loadRun (spec: Record<string, unknown>): Promise<LoadResult> {
  const child = runNode('load-generator.js', [JSON.stringify(spec)])
  const code = await new Promise((resolve) => child.on('exit', resolve))
  const line = child.output().trim().split('\n').reverse().find((l) => l.startsWith('{'))
  if (code !== 0 || line === undefined) throw new Error(`load generator failed: ${child.output().slice(-500)}`)
  return JSON.parse(line) as LoadResult
}
