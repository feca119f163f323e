import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { freePort } from './redis.js'
import { waitFor } from './wait.js'

export interface PrivateCluster {
  /** `127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3`, the REDIS_CLUSTER_NODES form. */
  nodes: string
  ports: number[]
  /** The port of the master serving a hash slot. */
  portForSlot: (slot: number) => Promise<number>
  destroy: () => Promise<void>
}

export function hasRedisCluster (): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0 &&
    spawnSync('redis-cli', ['--version'], { stdio: 'ignore' }).status === 0
}

/** A real Redis Cluster of `masters` nodes on loopback ports, in private folders, without persistence. */
export async function startPrivateCluster (masters = 3): Promise<PrivateCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'rotest-cluster-'))
  const ports: number[] = []
  const children: ChildProcess[] = []
  for (let i = 0; i < masters; i++) {
    const port = await freePort()
    ports.push(port)
    children.push(spawn('redis-server', [
      '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir,
      '--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`, '--cluster-node-timeout', '3000',
      '--maxmemory-policy', 'noeviction'
    ], { stdio: 'ignore' }))
  }
  const destroy = async (): Promise<void> => {
    await Promise.all(children.map(async (c) => {
      if (c.exitCode !== null || c.signalCode !== null) return
      const exited = new Promise((resolve) => c.once('exit', resolve))
      c.kill('SIGKILL')
      await exited
    }))
    rmSync(dir, { recursive: true, force: true })
  }
  try {
    for (const port of ports) {
      await waitFor(`cluster node ${port}`, () => spawnSync('redis-cli', ['-p', String(port), 'ping'], { encoding: 'utf8' }).stdout.includes('PONG'), 10_000)
    }
    const create = spawnSync('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'], { encoding: 'utf8' })
    if (create.status !== 0) throw new Error(`redis-cli --cluster create failed: ${create.stdout}${create.stderr}`)
    for (const port of ports) {
      await waitFor(`cluster state ok on ${port}`, () => spawnSync('redis-cli', ['-p', String(port), 'cluster', 'info'], { encoding: 'utf8' }).stdout.includes('cluster_state:ok'), 20_000, 100)
    }
  } catch (err) {
    await destroy()
    throw err
  }
  return {
    nodes: ports.map((p) => `127.0.0.1:${p}`).join(','),
    ports,
    async portForSlot (slot: number): Promise<number> {
      const r = new Redis(ports[0] as number, '127.0.0.1')
      try {
        const slots = (await r.cluster('SLOTS')) as unknown as Array<[number, number, [string, number]]>
        const owner = slots.find(([from, to]) => slot >= from && slot <= to)
        if (owner === undefined) throw new Error(`no node serves slot ${slot}`)
        return owner[2][1]
      } finally {
        r.disconnect()
      }
    },
    destroy
  }
}
