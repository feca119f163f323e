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
  t.notMatch(worker, /container_name|\n {4}ports:/, 'workers and history writers scale')
  t.match(text, /\n {2}postgres:\n[\s\S]*\n {2}history:\n[\s\S]*WORKER_ROLE: history[\s\S]*DATABASE_URL: postgres:\/\//, 'PostgreSQL and a history writer with DATABASE_URL')
  const dockerfile = readFileSync(join(WORKSPACE_ROOT, 'Dockerfile'), 'utf8')
  t.match(dockerfile, /FROM node:\$\{NODE_VERSION\}-bookworm-slim AS build[\s\S]*FROM node:\$\{NODE_VERSION\}-bookworm-slim\n/, 'multi-stage, both stages on the same Node')
  const PINNED_NODE = readFileSync(join(WORKSPACE_ROOT, '.node-version'), 'utf8').trim()
  t.equal(/ARG NODE_VERSION=(\S+)/.exec(dockerfile)?.[1], PINNED_NODE, 'the image carries the Node the tests ran on')
  t.match(dockerfile, /io\.request-out\.node-version="\$\{NODE_VERSION\}"/, 'and says so in a label')
  for (const file of ['docker-compose.yml', 'deploy/k8s/intake.yaml', 'deploy/k8s/worker.yaml', 'deploy/k8s/history-writer.yaml']) {
    t.match(readFileSync(join(WORKSPACE_ROOT, file), 'utf8'), new RegExp(`image: request-out:[\\w.]+-node${PINNED_NODE.replaceAll('.', '\\.')}\\n`), `${file}: the image tag names its Node`)
  }
})

t.test('Kubernetes manifests are valid against the Kubernetes schemas', async (t) => {
  const { parseAllDocuments } = await import('yaml')
  const { readdirSync } = await import('node:fs')
  const models: Record<string, () => Promise<new (data: unknown) => { validate: () => void }>> = {
    'apps/v1/Deployment': async () => (await import('kubernetes-models/apps/v1/Deployment')).Deployment as never,
    'v1/Service': async () => (await import('kubernetes-models/v1/Service')).Service as never,
    'v1/ConfigMap': async () => (await import('kubernetes-models/v1/ConfigMap')).ConfigMap as never,
    'v1/Secret': async () => (await import('kubernetes-models/v1/Secret')).Secret as never,
    'autoscaling/v2/HorizontalPodAutoscaler': async () => (await import('kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler')).HorizontalPodAutoscaler as never,
    'policy/v1/PodDisruptionBudget': async () => (await import('kubernetes-models/policy/v1/PodDisruptionBudget')).PodDisruptionBudget as never
  }
  const dir = join(WORKSPACE_ROOT, 'deploy', 'k8s')
  const kinds: string[] = []
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.yaml'))) {
    for (const doc of parseAllDocuments(readFileSync(join(dir, file), 'utf8'))) {
      const obj = doc.toJS() as { apiVersion: string, kind: string, metadata: { name: string } }
      const Model = models[`${obj.apiVersion}/${obj.kind}`]
      if (Model === undefined) { t.fail(`${file}: no schema for ${obj.apiVersion} ${obj.kind}`); continue }
      const M = await Model()
      t.doesNotThrow(() => new M(obj).validate(), `${file}: ${obj.kind} ${obj.metadata.name} is valid`)
      kinds.push(obj.kind)
    }
  }
  t.same([...new Set(kinds)].sort(), ['ConfigMap', 'Deployment', 'HorizontalPodAutoscaler', 'PodDisruptionBudget', 'Secret', 'Service'])
  const { Deployment } = await import('kubernetes-models/apps/v1/Deployment')
  t.throws(() => new Deployment({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'x' }, spec: { replicas: 'two' } } as never).validate(),
    'the validator does refuse a bad manifest')
  const worker = readFileSync(join(dir, 'worker.yaml'), 'utf8')
  t.match(worker, /path: \/health\/ready/, 'worker probes use the health endpoints')
  const intake = readFileSync(join(dir, 'intake.yaml'), 'utf8')
  t.match(intake, /path: \/health\/live/)
  const writer = readFileSync(join(dir, 'history-writer.yaml'), 'utf8')
  t.match(writer, /name: WORKER_ROLE, value: history/, 'the history writers run as their own Deployment')
  for (const file of ['intake.yaml', 'history-writer.yaml']) t.match(readFileSync(join(dir, file), 'utf8'), /name: DATABASE_URL\n\s*valueFrom: \{ secretKeyRef/, `${file}: DATABASE_URL from the secret`)
  for (const file of ['intake.yaml', 'worker.yaml', 'history-writer.yaml']) t.notMatch(readFileSync(join(dir, file), 'utf8'), /image: [^\n]*:latest/, `${file}: a pinned image`)
  t.match(intake, /preStop:\s*\n\s*exec: \{ command: \["sleep"/, 'the intake waits for the load balancer before it drains')
  t.match(intake, /METRICS_PORT/, 'the intake serves /metrics on a port of its own')
  const service = intake.slice(intake.indexOf('kind: Service'))
  t.notMatch(service.slice(0, service.indexOf('---')), /9464|metrics/, 'which the Service does not expose')
})

t.test('docker compose defaults: loopback only, config mounted, catalog secrets passed to both apps', async (t) => {
  const text = readFileSync(join(WORKSPACE_ROOT, 'docker-compose.yml'), 'utf8')
  t.match(text, /"\$\{PUBLISH_ADDRESS:-127\.0\.0\.1\}:\$\{PORT:-3000\}:3000"/, 'the API is published on 127.0.0.1 unless PUBLISH_ADDRESS says otherwise')
  t.match(text, /x-app: &app[\s\S]*- \.\/config:\/etc\/request-out:ro/, 'users file and catalog are mounted into every container')
  t.match(text, /x-app: &app[\s\S]*env_file:\s*\n\s*- \$\{PRODUCT_SECRETS_FILE:-\.\/config\/product-secrets\.env\}/, "the catalog's environment values reach intake and workers")
  t.ok(readFileSync(join(WORKSPACE_ROOT, 'config/product-secrets.env'), 'utf8').length > 0, 'the default secrets file exists, so compose starts without one')
})
