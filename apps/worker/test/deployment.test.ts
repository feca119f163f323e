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
  t.match(text, /x-app: &app[\s\S]*env_file:[\s\S]*\n\s*- \$\{PRODUCT_SECRETS_FILE:-\.\/config\/product-secrets\.env\}/, "the catalog's environment values reach intake and workers")
  t.ok(readFileSync(join(WORKSPACE_ROOT, 'config/product-secrets.env'), 'utf8').length > 0, 'the default secrets file exists, so compose starts without one')
})

t.test('defects #25.14 and #25.15: compose and Kubernetes as an operator finds them', async (t) => {
  const { parse, parseAllDocuments } = await import('yaml')
  const compose = parse(readFileSync(join(WORKSPACE_ROOT, 'docker-compose.yml'), 'utf8')) as { services: Record<string, { environment?: Record<string, string>, env_file?: string[] }>, 'x-app': { env_file: string[] } }
  const intakeEnv = compose.services.intake?.environment ?? {}
  t.ok(intakeEnv.METRICS_PORT !== undefined && intakeEnv.METRICS_PORT !== '', '/metrics is on a port of its own, not the API port')
  const settingsFiles = ['SETTINGS_FILE:-./config/request-out.env', 'PRODUCT_SECRETS_FILE:-./config/product-secrets.env'].map((v) => `\${${v}}`)
  t.same(compose['x-app'].env_file, settingsFiles, 'a settings file beside the secrets file')
  t.ok(readFileSync(join(WORKSPACE_ROOT, 'config/request-out.env'), 'utf8').includes('RATE_LIMIT_'), 'the default settings file exists and says what goes in it')

  const docs = (file: string): Array<Record<string, any>> => parseAllDocuments(readFileSync(join(WORKSPACE_ROOT, 'deploy/k8s', file), 'utf8')).map((d) => d.toJS() as Record<string, any>)
  const config = docs('configmap.yaml').find((d) => d.metadata.name === 'request-out-config')
  t.ok(config !== undefined)
  t.same(Object.keys(config?.data ?? {}).filter((k) => !/^[A-Z][A-Z0-9_]*$/.test(k)), [], 'the ConfigMap loaded with envFrom holds environment variables only (no products.json)')
  t.ok(docs('configmap.yaml').some((d) => d.metadata.name === 'request-out-catalog' && typeof d.data['products.json'] === 'string'), 'the catalog is a ConfigMap of its own')
  const worker = docs('worker.yaml')
  const deployment = worker.find((d) => d.kind === 'Deployment')
  t.ok(worker.some((d) => d.kind === 'HorizontalPodAutoscaler' && d.spec.scaleTargetRef.name === deployment?.metadata.name), 'an HPA scales the workers')
  t.equal(deployment?.spec.replicas, undefined, 'so their Deployment sets no replicas')
  const intake = docs('intake.yaml').find((d) => d.kind === 'Deployment')
  t.equal(intake?.spec.template.spec.containers[0].readinessProbe.httpGet.path, '/health/live', 'an intake without Redis stays in the Service and answers its own 503 envelope')
  t.match(readFileSync(join(WORKSPACE_ROOT, 'deploy/k8s/intake.yaml'), 'utf8'), /image: request-out:[^\n]*\n/)
  t.match(readFileSync(join(WORKSPACE_ROOT, 'deploy/k8s/intake.yaml'), 'utf8'), /A placeholder: replace with the image as your registry names it/, 'the image name is said to be a placeholder')
})

t.test('the NODE_OPTIONS compose ships for each app are the ones Kubernetes ships (the bench measures them)', async (t) => {
  const compose = readFileSync(join(WORKSPACE_ROOT, 'docker-compose.yml'), 'utf8')
  const composeOptions = (service: string): string | undefined =>
    /\n {6}NODE_OPTIONS: \$\{[A-Z_]+:-([^}]*)\}/.exec(compose.slice(compose.indexOf(`\n  ${service}:\n`)))?.[1]
  for (const [service, manifest] of [['intake', 'intake.yaml'], ['worker', 'worker.yaml'], ['history', 'history-writer.yaml']] as const) {
    const k8s = /name: NODE_OPTIONS, value: "([^"]*)"/.exec(readFileSync(join(WORKSPACE_ROOT, 'deploy/k8s', manifest), 'utf8'))?.[1]
    t.ok(composeOptions(service) !== undefined, `compose sets NODE_OPTIONS for ${service}`)
    t.equal(k8s, composeOptions(service), `${manifest} sets the same`)
    t.notMatch(k8s ?? '', /max-old-space-size=96\b/, 'not the 96 MB cap that halved the accept rate on Node 24')
  }
})

const promtool = spawnSync('promtool', ['--version']).status === 0
t.test('defects #25.16: the alert rules as files, checked and unit-tested by promtool; the PrometheusRule and the dashboard agree with them',
  { skip: promtool ? false : 'SKIPPED LOUDLY: promtool is not installed (Debian package prometheus; .ci/run installs it)' }, async (t) => {
    const { parse } = await import('yaml')
    const dir = join(WORKSPACE_ROOT, 'deploy/prometheus')
    for (const args of [['check', 'rules', 'request-out.rules.yml'], ['test', 'rules', 'request-out.rules.test.yml'], ['check', 'config', 'prometheus.yml']]) {
      const r = spawnSync('promtool', args, { cwd: dir, encoding: 'utf8' })
      t.equal(r.status, 0, `promtool ${args.join(' ')}: ${r.stdout}${r.stderr}`)
    }
    const rules = parse(readFileSync(join(dir, 'request-out.rules.yml'), 'utf8')) as { groups: Array<{ rules: Array<{ alert: string, expr: string }> }> }
    const alerts = rules.groups.flatMap((g) => g.rules.map((r) => r.alert))
    const tests = readFileSync(join(dir, 'request-out.rules.test.yml'), 'utf8')
    for (const alert of alerts) t.match(tests, new RegExp(`alertname: ${alert}\\n\\s*exp_alerts:\\n\\s*- exp_labels`), `${alert} has a unit test in which it fires`)
    const operator = parse(readFileSync(join(WORKSPACE_ROOT, 'deploy/k8s-monitoring/prometheus-rule.yaml'), 'utf8')) as { kind: string, spec: unknown }
    t.equal(operator.kind, 'PrometheusRule')
    t.same(operator.spec, { groups: rules.groups }, 'the PrometheusRule holds the same rules')

    // Every metric the rules and the dashboard use is one the apps register.
    const sources = ['apps/intake/src/plugins/metrics.ts', 'apps/worker/src/worker-metrics.ts', 'apps/worker/src/history-service.ts']
      .map((f) => readFileSync(join(WORKSPACE_ROOT, f), 'utf8')).join('\n')
    const registered = new Set([...sources.matchAll(/name: '([a-z_]+)'/g)].map((m) => m[1]))
    const dashboard = JSON.parse(readFileSync(join(WORKSPACE_ROOT, 'deploy/grafana/dashboards/request-out.json'), 'utf8')) as { panels: Array<{ title: string, targets?: Array<{ expr: string }> }> }
    const exprs = [...rules.groups.flatMap((g) => g.rules.map((r) => r.expr)), ...dashboard.panels.flatMap((p) => (p.targets ?? []).map((x) => x.expr))]
    for (const expr of exprs) {
      for (const [, metric] of expr.matchAll(/\b((?:request_out|http_request)_[a-z_]+?)(?:_bucket|_count|_sum)?\b(?=[{[(\s)]|$)/g)) {
        t.ok(registered.has(metric as string), `${metric} is a metric the apps register`)
      }
    }
    for (const topic of ['Queue depth', 'Tickets by outcome', 'latency', 'Upstream latency', 'History backlog']) {
      t.ok(dashboard.panels.some((p) => p.title.includes(topic)), `the dashboard shows ${topic}`)
    }
    const compose = parse(readFileSync(join(WORKSPACE_ROOT, 'docker-compose.yml'), 'utf8')) as { services: Record<string, { profiles?: string[] }> }
    t.same(['prometheus', 'grafana'].map((s) => compose.services[s]?.profiles), [['monitoring'], ['monitoring']], 'compose provisions both in its monitoring profile')
  })
