import t from 'tap'
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('../../../', import.meta.url))
interface NodeRuntime { isSupported: (version: string) => boolean }
const runtime = await import(join(ROOT, 'scripts/lib/node-runtime.mjs')) as NodeRuntime
const PINNED_NODE = readFileSync(join(ROOT, '.node-version'), 'utf8').trim()

t.test('the tests run on Node 24, and the project says so', async (t) => {
  t.match(process.versions.node, /^24\./, `this test runs on Node ${process.versions.node}`)
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } }
  t.equal(pkg.engines.node, '>=22.19.0', 'engines: the dependencies\' floor (undici 8)')
  t.match(PINNED_NODE, /^24\.\d+\.\d+$/, '.node-version pins an exact Node 24 LTS')
})

t.test('which Node versions run the project as they are', async (t) => {
  for (const v of ['20.20.2', '22.18.0', '18.20.0']) t.notOk(runtime.isSupported(v), `${v} is not`)
  for (const v of ['22.19.0', '22.21.1', '24.22.3', '26.1.0']) t.ok(runtime.isSupported(v), `${v} is`)
})

t.test('scripts/node-path.mjs prints the absolute path of a Node 24 binary', async (t) => {
  const r = spawnSync(process.execPath, [join(ROOT, 'scripts/node-path.mjs')], { encoding: 'utf8' })
  t.equal(r.status, 0, r.stderr)
  const path = r.stdout.trim()
  t.match(path, /^\//, 'absolute')
  t.match(spawnSync(path, ['--version'], { encoding: 'utf8' }).stdout.trim(), /^v24\./)
})

t.test('on an older Node, the pinned one from the npm registry package (cached: no second fetch)', async (t) => {
  // Asks for the pinned binary as an old Node would; the cache is the one `npm test` itself used
  // on a machine with an older Node, so nothing is downloaded when it is there already.
  const script = `import('${join(ROOT, 'scripts/lib/node-runtime.mjs')}').then((m) => console.log(m.pinnedNodePath(() => console.log('FETCHING'))))`
  const first = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 300_000 })
  t.equal(first.status, 0, first.stderr)
  const second = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' })
  t.notMatch(second.stdout, /FETCHING/, 'the second ask fetches nothing')
  const binary = second.stdout.trim().split('\n').at(-1) ?? ''
  t.match(binary, new RegExp(`node-${process.platform}-${process.arch}-${PINNED_NODE.replaceAll('.', '\\.')}/bin/node$`))
  t.equal(spawnSync(binary, ['--version'], { encoding: 'utf8' }).stdout.trim(), `v${PINNED_NODE}`)
})
