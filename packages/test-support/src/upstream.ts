import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { mkdtempSync, writeFileSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

interface Teardown { teardown: (fn: () => unknown) => void }

export type UpstreamHandler = (body: Record<string, unknown>, req: IncomingMessage, res: ServerResponse) => void | Promise<void>

/** A real local upstream for `http` products: every call's body is recorded; closed after the test. */
export async function startUpstream (t: Teardown, handler: UpstreamHandler): Promise<{ url: string, calls: Array<Record<string, unknown>> }> {
  const calls: Array<Record<string, unknown>> = []
  const server = createServer((req, res) => {
    let raw = ''
    req.on('data', (c: Buffer) => { raw += c.toString() })
    req.on('end', () => {
      const body = JSON.parse(raw || '{}') as Record<string, unknown>
      calls.push(body)
      void Promise.resolve(handler(body, req, res)).catch(() => res.writeHead(500).end())
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
  t.teardown(async () => {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  })
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/verify`, calls }
}

export const json = (res: ServerResponse, status: number, body: unknown): void => {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body))
}

/** What a well-behaved upstream answers for a ticket. */
export const okResult = { ResourceType: 'data', Resource: 'nik', ResourceId: 'r-1', Data: { Status: 'ok' } }

/** Writes a catalog file of `products` in a folder of its own and returns its path (for PRODUCTS_FILE). */
export function writeCatalog (products: unknown[]): string {
  const file = join(mkdtempSync(join(tmpdir(), 'rotest-catalog-')), 'products.json')
  writeFileSync(file, JSON.stringify({ Products: products }))
  return file
}

/**
 * An upstream that answers 503 until `heal()` is called, then 200 with a result whose ResourceId
 * is `retried-1`: a ticket fails, an operator retries it, and the retry is seen to work.
 */
export async function startFailingUpstream (t: Teardown): Promise<{ url: string, heal: () => void }> {
  let healthy = false
  const upstream = await startUpstream(t, (_body, _req, res) => healthy
    ? json(res, 200, { ...okResult, ResourceId: 'retried-1' })
    : json(res, 503, { Message: 'down' }))
  return { url: upstream.url, heal: () => { healthy = true } }
}
