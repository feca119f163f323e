import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'

/**
 * A local OTLP/HTTP endpoint that takes every export and keeps only its size: the traced runs pay
 * the apps' whole cost of tracing (spans, batching, protobuf, the POSTs) but no collector's.
 */
export async function otlpSink (): Promise<{ env: Record<string, string>, received: () => { requests: number, bytes: number }, close: () => Promise<void> }> {
  let requests = 0
  let bytes = 0
  const server = createServer((req, res) => {
    req.on('data', (c: Buffer) => { bytes += c.length })
    req.on('end', () => { requests++; res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end() })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return {
    // Sampled: every request and ticket. The export queue is made large enough that no span is
    // dropped under the bench's load (the default 2,048 fills within a 5 s export interval).
    env: { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_TRACES_SAMPLER: 'always_on', OTEL_BSP_MAX_QUEUE_SIZE: '65536', OTEL_BSP_SCHEDULE_DELAY: '1000' },
    received: () => ({ requests, bytes }),
    close: async () => {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    }
  }
}
