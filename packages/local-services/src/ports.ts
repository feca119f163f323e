import net from 'node:net'

// Ports handed out by this process: the kernel may offer the same free port twice in a row, and a
// caller that has not bound its first port yet (an app still starting) would then share it with the
// second (seen: a worker's health server on the port meant for the intake).
const handedOut = new Set<number>()

/** A TCP port on 127.0.0.1 that nothing listens on at the moment of asking, and not handed out by this process before. */
export async function freePort (): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = net.createServer()
      server.once('error', reject)
      server.listen(0, '127.0.0.1', () => {
        const address = server.address()
        server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0))
      })
    })
    if (!handedOut.has(port)) {
      handedOut.add(port)
      return port
    }
  }
  throw new Error('no free port that this process has not handed out already')
}
