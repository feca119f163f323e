// One autocannon run in its own process, so the load generator never shares an event loop with
// what it measures. Input: JSON in argv[2]. Output: one JSON line on stdout.
import autocannon from 'autocannon'

interface LoadSpec {
  url: string
  connections: number
  durationSeconds: number
  method: 'GET' | 'POST'
  headers: Record<string, string>
  /** For POST: a ticket template; TicketId is made unique per request. */
  ticket?: Record<string, unknown>
  ticketPrefix?: string
  /** For GET: paths to cycle through. */
  paths?: string[]
  /** Requests per second for the whole run (0 = as fast as possible). */
  rate?: number
}

const spec = JSON.parse(process.argv[2] ?? '{}') as LoadSpec
let counter = 0
const instance = autocannon({
  url: spec.url,
  connections: spec.connections,
  duration: spec.durationSeconds,
  ...(spec.rate !== undefined && spec.rate > 0 ? { overallRate: spec.rate } : {}),
  requests: [{
    method: spec.method,
    headers: spec.headers,
    setupRequest: (req) => {
      const n = counter++
      if (spec.method === 'POST') {
        return { ...req, body: JSON.stringify({ ...spec.ticket, TicketId: `${spec.ticketPrefix ?? 'b'}-${n}` }) }
      }
      const paths = spec.paths ?? ['/']
      return { ...req, path: paths[n % paths.length] }
    }
  }]
}, (err, result) => {
  if (err !== null && err !== undefined) {
    console.error(err)
    process.exit(1)
  }
  console.log(JSON.stringify({
    requestsPerSecond: result.requests.average,
    total: result.requests.total,
    latencyP50: result.latency.p50,
    latencyP99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    sent: counter
  }))
})
instance.on('error', (err: unknown) => console.error(err))
