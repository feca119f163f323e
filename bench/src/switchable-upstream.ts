import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'

/**
 * An `http` product's upstream on loopback that the bench turns off and on: down, it answers 503
 * without Retry-After; up, a result. Every call is counted with its path and time.
 */
export async function switchableUpstream (down: boolean) {
  const state = { down }
  const calls: Array<{ path: string, at: number }> = []
  const server = createServer((req, res) => {
    req.resume()
    req.on('end', () => {
      calls.push({ path: req.url ?? '', at: Date.now() })
      if (state.down) res.writeHead(503, { 'content-type': 'application/json' }).end('{"Message":"down"}')
      else res.writeHead(200, { 'content-type': 'application/json' }).end('{"ResourceType":"data","Resource":"nik","ResourceId":"1","Data":null}')
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    calls,
    setDown: (d: boolean): void => { state.down = d },
    close: async (): Promise<void> => {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    }
  }
}
