import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Registry } from 'prom-client'

export interface HealthSources {
  registry: Registry
  /** Each named check: true when healthy. */
  readiness: () => Promise<Record<string, boolean>>
}

/** The worker's small HTTP listener: /health/live, /health/ready and /metrics, nothing else. */
export async function startHealthServer (host: string, port: number, sources: HealthSources): Promise<{ server: Server, port: number }> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]
    const json = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(body))
    }
    if (req.method !== 'GET') return json(405, { Status: 'failed', Code: 'METHOD_NOT_ALLOWED' })
    if (path === '/health/live') return json(200, { Status: 'ok', Checks: { process: true } })
    if (path === '/health/ready') {
      void sources.readiness().then((checks) => {
        const ok = Object.values(checks).every(Boolean)
        json(ok ? 200 : 503, { Status: ok ? 'ok' : 'unavailable', Checks: checks })
      }, () => json(503, { Status: 'unavailable', Checks: {} }))
      return
    }
    if (path === '/metrics') {
      void sources.registry.metrics().then((text) => {
        res.writeHead(200, { 'content-type': sources.registry.contentType }).end(text)
      }, () => json(500, { Status: 'failed', Code: 'INTERNAL' }))
      return
    }
    json(404, { Status: 'failed', Code: 'NOT_FOUND' })
  })
  server.keepAliveTimeout = 5000
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => resolve())
  })
  return { server, port: (server.address() as AddressInfo).port }
}

/** Closes the listener and its open connections (a scraper's keep-alive must not hold the stop). */
export async function closeHealthServer (server: Server | undefined): Promise<void> {
  if (server === undefined) return
  server.closeAllConnections()
  await new Promise<void>((resolve) => server.close(() => resolve()))
}
