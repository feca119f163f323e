import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { freePort } from './redis.js'
import { waitFor } from './wait.js'

/** Root of the workspace, from this package's dist folder. */
export const WORKSPACE_ROOT = fileURLToPath(new URL('../../../', import.meta.url))

export interface AppProcess {
  child: ChildProcess
  pid: number
  /** Every log line so far, parsed as JSON where it is JSON. */
  lines: Array<Record<string, unknown>>
  /** Raw output so far (stdout and stderr). */
  output: () => string
  /** Resolves with the first log line that satisfies `match`. */
  waitForLine: (match: (line: Record<string, unknown>) => boolean, timeoutMs?: number) => Promise<Record<string, unknown>>
  /** Sends `signal` and resolves with the exit code (or signal name). */
  stop: (signal?: NodeJS.Signals) => Promise<number | string>
  exited: Promise<number | string>
}

/** Runs a built app (`intake` or `worker`) as a child process of plain Node, with `env` on top of ours. */
export function spawnApp (app: 'intake' | 'worker', env: Record<string, string>): AppProcess {
  const child = spawn(process.execPath, [`apps/${app}/dist/main.js`], {
    cwd: WORKSPACE_ROOT,
    env: { ...process.env, LOG_PRETTY: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  const lines: Array<Record<string, unknown>> = []
  let raw = ''
  const waiters: Array<{ match: (l: Record<string, unknown>) => boolean, resolve: (l: Record<string, unknown>) => void }> = []
  let pending = ''
  const onData = (chunk: Buffer): void => {
    raw += chunk.toString()
    pending += chunk.toString()
    let nl
    while ((nl = pending.indexOf('\n')) >= 0) {
      const text = pending.slice(0, nl)
      pending = pending.slice(nl + 1)
      let line: Record<string, unknown>
      try {
        line = JSON.parse(text) as Record<string, unknown>
      } catch {
        line = { msg: text }
      }
      lines.push(line)
      for (const w of [...waiters]) {
        if (w.match(line)) {
          waiters.splice(waiters.indexOf(w), 1)
          w.resolve(line)
        }
      }
    }
  }
  child.stdout?.on('data', onData)
  child.stderr?.on('data', onData)
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)))
  return {
    child,
    pid: child.pid ?? -1,
    lines,
    output: () => raw,
    waitForLine: (match, timeoutMs = 15_000) => new Promise((resolve, reject) => {
      const found = lines.find(match)
      if (found !== undefined) return resolve(found)
      const timer = setTimeout(() => reject(new Error(`${app} (pid ${child.pid}) printed no matching line in ${timeoutMs} ms; output:\n${raw.slice(-3000)}`)), timeoutMs)
      waiters.push({ match, resolve: (l) => { clearTimeout(timer); resolve(l) } })
    }),
    stop: async (signal: NodeJS.Signals = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      return exited
    },
    exited
  }
}

/**
 * A worker process with its health listener on a known port, resolved once its probe says so:
 * `ready` (Redis connected, every product worker running) or just `live` (the process answers).
 */
export async function spawnWorker (env: Record<string, string>, until: 'ready' | 'live' = 'ready', timeoutMs = 30_000): Promise<AppProcess & { healthPort: number }> {
  const healthPort = await freePort()
  const worker = spawnApp('worker', { ...env, WORKER_METRICS_HOST: '127.0.0.1', WORKER_METRICS_PORT: String(healthPort) })
  try {
    await waitFor(`worker (pid ${worker.pid}) ${until}`, async () => {
      if (worker.child.exitCode !== null) throw new Error(`the worker exited: ${worker.output().slice(-2000)}`)
      return (await fetch(`http://127.0.0.1:${healthPort}/health/${until}`)).status === 200
    }, timeoutMs, 50)
  } catch (err) {
    await worker.stop('SIGKILL')
    throw err
  }
  return Object.assign(worker, { healthPort })
}
