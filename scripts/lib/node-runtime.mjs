// The project's Node.js: `npm start`, `npm test`, `npm run bench` and `npm run soak` run on a
// supported Node (≥ 22.19, the dependencies' floor: undici 8). On an older one they take the pinned Node 24
// from the npm registry's `node-<platform>-<arch>` package (it ships the real binary; no install
// script runs), keep it in a cache outside node_modules (so it works before any install, and a
// second run fetches nothing) and run themselves again on it, its bin/ first on PATH so npx, pnpm
// and tap find the same node.
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync } from 'node:fs'
import { homedir } from 'node:os'
import { delimiter, join } from 'node:path'

// Tested and shipped, in one place: .node-version (read by nvm, fnm, asdf and the like too); the
// Dockerfile's base image carries the same version (a test holds them equal).
const PINNED_NODE = readFileSync(join(import.meta.dirname, '..', '..', '.node-version'), 'utf8').trim()
const FLOOR = [22, 19]

export function isSupported (version = process.versions.node) {
  const [major, minor] = version.split('.').map(Number)
  return major > FLOOR[0] || (major === FLOOR[0] && minor >= FLOOR[1])
}

function cacheRoot () {
  return process.env.REQUEST_OUT_NODE_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'request-out', 'node')
}

// The path of the pinned Node's binary, fetched into the cache on first use.
export function pinnedNodePath (log = (m) => console.error(m)) {
  const pkg = `node-${process.platform}-${process.arch}`
  const dir = join(cacheRoot(), `${pkg}-${PINNED_NODE}`)
  const binary = join(dir, 'bin', process.platform === 'win32' ? 'node.exe' : 'node')
  if (existsSync(binary)) return binary
  log(`==> Node.js ${process.versions.node} is older than ${FLOOR.join('.')}: fetching Node.js ${PINNED_NODE} (npm package ${pkg}) into ${dir}`)
  mkdirSync(cacheRoot(), { recursive: true })
  // Fetched and unpacked beside the cache entry, then renamed into place: two runs at once never
  // see half a binary.
  const work = mkdtempSync(join(cacheRoot(), '.fetch-'))
  try {
    const packed = spawnSync('npm', ['pack', `${pkg}@${PINNED_NODE}`, '--pack-destination', work, '--silent'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })
    if (packed.status !== 0) {
      throw new Error(`npm pack ${pkg}@${PINNED_NODE} failed (exit ${packed.status}): install Node.js ${PINNED_NODE} (or any ≥ ${FLOOR.join('.')}) and run again`)
    }
    const tarball = readdirSync(work).find((f) => f.endsWith('.tgz'))
    const unpacked = join(work, 'unpacked')
    mkdirSync(unpacked)
    const untar = spawnSync('tar', ['-xzf', join(work, tarball), '-C', unpacked, '--strip-components=1'], { stdio: 'inherit' })
    if (untar.status !== 0) throw new Error(`could not unpack ${tarball} (tar exit ${untar.status})`)
    try {
      renameSync(unpacked, dir)
    } catch (err) {
      // Another run put it there first.
      if (!existsSync(binary)) throw err
    }
  } finally {
    rmSync(work, { recursive: true, force: true })
  }
  return binary
}

// Call at the top of an entry script: returns at once on a supported Node; otherwise runs the
// script again on the pinned Node and exits with its status (never returns).
export async function runOnSupportedNode (script) {
  if (isSupported()) {
    console.log(`==> Node.js ${process.versions.node} (${process.execPath})`)
    return
  }
  let binary
  try {
    binary = pinnedNodePath((m) => console.log(m))
  } catch (err) {
    console.error(err.message)
    process.exit(1)
  }
  console.log(`==> running on Node.js ${PINNED_NODE} (${binary}), not the machine's ${process.versions.node}`)
  const bin = join(binary, '..')
  const child = spawn(binary, [script, ...process.argv.slice(2)], {
    stdio: 'inherit',
    env: { ...process.env, PATH: `${bin}${delimiter}${process.env.PATH ?? ''}` }
  })
  // Ctrl-C reaches the whole process group, the child too: this process only waits for it.
  process.on('SIGINT', () => {})
  process.on('SIGTERM', () => child.kill('SIGTERM'))
  const code = await new Promise((resolve) => child.on('close', (status, signal) => resolve(status ?? (signal ? 1 : 0))))
  process.exit(code)
}
