import t from 'tap'
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { WORKSPACE_ROOT, composeCommand } from '@request-out/test-support'

const compose = composeCommand()

t.test('docker compose config accepts docker-compose.yml', { skip: compose === undefined ? 'SKIPPED LOUDLY: neither `docker compose` nor `docker-compose` is installed' : false }, async (t) => {
  const [cmd, ...args] = compose as string[]
  const r = spawnSync(cmd as string, [...args, 'config'], { cwd: WORKSPACE_ROOT, encoding: 'utf8' })
  t.equal(r.status, 0, r.stderr)
  t.match(r.stdout, /appendonly/)
  t.match(r.stdout, /noeviction/)
  t.match(r.stdout, /apps\/worker\/dist\/main\.js/)
})

t.test('the worker service can be scaled: no fixed ports or container names', async (t) => {
  const text = readFileSync(join(WORKSPACE_ROOT, 'docker-compose.yml'), 'utf8')
  const worker = text.slice(text.indexOf('\n  worker:'), text.indexOf('\nvolumes:'))
  t.notMatch(worker, /container_name|\n    ports:/)
  t.match(readFileSync(join(WORKSPACE_ROOT, 'Dockerfile'), 'utf8'), /FROM node:20[^\n]* AS build[\s\S]*FROM node:20/, 'multi-stage')
})
