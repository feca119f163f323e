import { Type, type Static, type TObject, type TProperties, type TSchema } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'

const int = (def: number, minimum: number, maximum: number, description: string) =>
  Type.Integer({ default: def, minimum, maximum, description })

/**
 * What `npm run bench`'s cost table switches off one at a time (BENCH_INTAKE_OFF), each a step of
 * a POST: the user-directory check of a token, the per-client rate lease, the RateLimit fields, the
 * depth and input-schema validation, the claim (idempotency), the fair-share turn (the job then goes
 * to BullMQ's plain wait list), the upstream breaker's check, the history backlog check, the access
 * log line and the request metrics.
 */
export const BENCH_FEATURES = [
  'user-directory', 'rate-limit', 'ratelimit-fields', 'validation', 'claim', 'fair-share', 'breaker', 'history-backlog', 'access-log', 'metrics'
] as const
export type BenchFeature = (typeof BENCH_FEATURES)[number]

const Common = {
  NODE_ENV: Type.Union([Type.Literal('development'), Type.Literal('production'), Type.Literal('test')], {
    default: 'development',
    description: 'production refuses demo users and weak secrets'
  }),
  LOG_LEVEL: Type.Union(
    ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
    { default: 'info' }
  ),
  REDIS_URL: Type.String({ pattern: '^rediss?://', default: 'redis://127.0.0.1:6379' }),
  REDIS_CLUSTER_NODES: Type.Optional(Type.String({
    pattern: '^[^,\\s]+(,[^,\\s]+)*$',
    description: 'Comma-separated host:port (or redis:// URLs) of a Redis Cluster; replaces REDIS_URL'
  })),
  QUEUE_PREFIX: Type.String({
    pattern: '^[A-Za-z0-9_.-]{1,32}$',
    default: 'ro',
    description: 'Prefix of every Redis key; no braces (product queues add their own hash tag)'
  }),
  PRODUCTS_FILE: Type.Optional(Type.String({ minLength: 1 })),
  RECORD_TTL_SECONDS: int(604_800, 60, 31_536_000, 'How long tickets and records are kept'),
  EVENT_STREAM_RETENTION_SECONDS: int(900, 60, 604_800, 'Ticket events are kept at least this long in the event streams, whatever their consumers have read: how far back an event stream (SSE) resumes from Redis'),
  REDIS_COMMAND_TIMEOUT_MS: int(1000, 50, 60_000, 'A request-path Redis command not answered within this answers 503 (a hung Redis looks like a dead one)'),
  REDIS_PERSISTENCE_WARNING: Type.Union([Type.Literal('on'), Type.Literal('off')], {
    default: 'on',
    description: 'off: no warning at start when Redis runs without AOF (npm start sets it for its own throwaway Redis, and for all but one of its apps)'
  }),
  SHUTDOWN_TIMEOUT_MS: int(10_000, 100, 600_000, 'Time allowed for a graceful stop'),
  WEBHOOK_RETRY_SCHEDULE: Type.String({
    pattern: '^\\d+(,\\d+)*$',
    default: '5,300,1800,7200,18000,36000,36000,86400,86400',
    description: 'Seconds between webhook delivery attempts (each with jitter); its length is the number of retries (default: about 3.1 days)'
  }),
  WEBHOOK_ALLOW_PRIVATE_NETWORKS: Type.Boolean({
    default: false,
    description: 'Allow webhook URLs on loopback, private and link-local addresses (tests, closed networks); refused by default'
  }),
  DATABASE_URL: Type.Optional(Type.String({
    pattern: '^postgres(ql)?://',
    description: 'PostgreSQL of the ticket history, search and audit trail (unset: history off)'
  }))
}

export const IntakeEnv = Type.Object({
  ...Common,
  PORT: int(3000, 0, 65_535, 'HTTP port (0 = any free port)'),
  HOST: Type.String({ default: '127.0.0.1', minLength: 1 }),
  TRUST_PROXY: Type.Boolean({ default: false, description: 'Trust X-Forwarded-* (behind a load balancer)' }),
  JWT_SECRET: Type.Optional(Type.String({ minLength: 1 })),
  JWT_PUBLIC_KEY: Type.Optional(Type.String({ minLength: 1, description: 'PEM text or a path to a PEM file' })),
  JWT_ISSUER: Type.String({ default: 'request-out', minLength: 1 }),
  JWT_AUDIENCE: Type.String({ default: 'request-out', minLength: 1 }),
  JWT_EXPIRES_IN_SECONDS: int(3600, 60, 86_400, 'Lifetime of tokens from /v1/auth/login'),
  AUTH_USERS_FILE: Type.Optional(Type.String({ minLength: 1 })),
  TICKET_FINGERPRINT_KEY: Type.Optional(Type.String({
    minLength: 1,
    description: 'Key of the HMAC that fingerprints tickets (the re-POST check); the same on every intake; required in production'
  })),
  TICKET_FINGERPRINT_PREVIOUS_KEY: Type.Optional(Type.String({
    minLength: 1,
    description: 'The key before the last change: fingerprints made under it are still compared (keep it RECORD_TTL_SECONDS)'
  })),
  MAX_QUEUE_DEPTH: int(100_000, 1, 100_000_000, 'Waiting jobs of a product above which POST answers 503'),
  REDRIVE_MAX_AGE_DAYS: int(30, 1, 3650, 'A redrive selects only tickets accepted this recently'),
  BODY_LIMIT_BYTES: int(16_384, 256, 10_485_760, 'Largest accepted request body (and ticket of a batch)'),
  BATCH_BODY_LIMIT_BYTES: int(2_097_152, 1024, 104_857_600, 'Largest accepted batch body (POST /v1/request-out/batch)'),
  RATE_LIMIT_MAX: int(6000, 1, 10_000_000, 'Requests per client per RATE_LIMIT_WINDOW_MS'),
  RATE_LIMIT_WINDOW_MS: int(60_000, 100, 3_600_000, 'Rate limit window'),
  LOGIN_RATE_LIMIT_MAX: int(10, 1, 100_000, 'Failed logins per username and address per minute (both login doors together)'),
  LOGIN_USER_RATE_LIMIT_MAX: int(50, 1, 1_000_000, 'Failed logins per username over all addresses per minute'),
  LOGIN_ADDRESS_RATE_LIMIT_MAX: int(100, 1, 1_000_000, 'Failed logins per address over all usernames per minute'),
  LOGIN_HASH_CONCURRENCY: int(4, 1, 256, 'Password hashes computed at once; further logins wait their turn'),
  AUTH_USERS_POLL_MS: int(1000, 100, 600_000, 'How often AUTH_USERS_FILE is checked for changes'),
  REVOCATION_TTL_SECONDS: int(86_400, 60, 31_536_000, 'How long a revocation by username is kept in external-token mode (the longest lifetime of a token)'),
  METRICS_PORT: Type.Optional(Type.Integer({ minimum: 0, maximum: 65_535, description: 'Serve /metrics only on this port (0 = any free port), not on the API port' })),
  METRICS_HOST: Type.String({ default: '127.0.0.1', minLength: 1, description: 'Address of the METRICS_PORT listener' }),
  HTTP_REQUEST_TIMEOUT_MS: int(45_000, 1000, 600_000, 'A request must arrive whole and be answered within this (above the 30 s long poll)'),
  HTTP_HEADERS_TIMEOUT_MS: int(10_000, 1000, 600_000, 'Request headers must arrive within this'),
  HTTP_KEEP_ALIVE_TIMEOUT_MS: int(72_000, 1000, 600_000, 'Idle keep-alive connections are closed after this (keep it above a load balancer\'s idle timeout)'),
  CORS_ORIGINS: Type.Optional(Type.String({
    pattern: '^https?://[^,\\s]+(,https?://[^,\\s]+)*$',
    description: 'Comma-separated origins whose pages may call the API from a browser (default: none)'
  })),
  HISTORY_QUERY_TIMEOUT_MS: int(1000, 100, 60_000, 'A history read (GET of a ticket Redis no longer holds, search) not answered within this answers 503'),
  HISTORY_BACKLOG_MAX: int(1_000_000, 1000, 1_000_000_000, 'Ticket events not yet stored in history above which POST answers 503 (history is never lost silently)'),
  BENCH_INTAKE_OFF: Type.Optional(Type.String({
    pattern: `^(${BENCH_FEATURES.join('|')})(,(${BENCH_FEATURES.join('|')}))*$`,
    description: 'npm run bench only (refused in production): features of the ticket path switched off, to measure what each costs'
  })),
  SSE_MAX_STREAMS: int(20_000, 1, 1_000_000, 'Event streams (SSE) one intake holds at once; past it a new one answers 503 with Retry-After'),
  SSE_MAX_STREAMS_PER_CLIENT: int(20, 1, 1_000_000, 'Event streams one client holds at once over every intake (leased: a dead intake frees its slots); past it 429 RATE_LIMITED'),
  STREAM_TOKEN_TTL_SECONDS: int(300, 10, 86_400, 'How long a stream token (POST /v1/stream-tokens) may open event streams'),
  STREAM_TOKEN_SECRET: Type.Optional(Type.String({
    minLength: 1,
    description: 'With JWT_PUBLIC_KEY (external tokens): the secret this intake signs stream tokens with, the same on every intake; with the built-in login the JWT_SECRET signs them'
  }))
})
export type IntakeEnv = Static<typeof IntakeEnv>

export const WorkerEnv = Type.Object({
  ...Common,
  SHUTDOWN_TIMEOUT_MS: int(30_000, 100, 600_000, 'Time running jobs get to finish on SIGTERM'),
  WORKER_PRODUCTS: Type.Optional(Type.String({
    pattern: '^[^,\\s]+(,[^,\\s]+)*$',
    description: 'Comma-separated product keys this worker serves (default: all)'
  })),
  WORKER_METRICS_PORT: int(0, 0, 65_535, 'Port of /health and /metrics (0 = any free port)'),
  WORKER_METRICS_HOST: Type.String({ default: '127.0.0.1', minLength: 1 }),
  WORKER_LOCK_DURATION_MS: int(30_000, 1000, 600_000, 'A job whose worker stops renewing its lock this long is stalled'),
  WORKER_STALLED_INTERVAL_MS: int(30_000, 1000, 600_000, 'How often a worker looks for stalled jobs to take over'),
  WORKER_MAX_STALLED_COUNT: int(3, 1, 100, 'Times a job may stall (its worker died) before it fails'),
  JOBS_KEEP_COMPLETED_SECONDS: int(3600, 0, 31_536_000, 'Completed jobs are trimmed after this age'),
  JOBS_KEEP_COMPLETED_COUNT: int(10_000, 0, 10_000_000, '... or beyond this count per product'),
  JOBS_KEEP_FAILED_SECONDS: int(604_800, 0, 31_536_000, 'Failed jobs are trimmed after this age'),
  JOBS_KEEP_FAILED_COUNT: int(10_000, 0, 10_000_000, '... or beyond this count per product'),
  REDRIVE_MAX_QUEUE_DEPTH: int(50_000, 1, 100_000_000, 'A redrive waits while its product has more waiting jobs than this (half the intakes\' MAX_QUEUE_DEPTH), so clients\' POSTs never get 503 because of it'),
  REDRIVE_TICKETS_PER_SECOND: int(150, 1, 100_000, 'The most tickets one redrive sends back per second (clients\' tickets go first)'),
  WORKER_ROLE: Type.Union([Type.Literal('products'), Type.Literal('history')], {
    default: 'products',
    description: 'products: run product jobs; history: copy ticket events into DATABASE_URL (scale each on its own)'
  }),
  WEBHOOK_TIMEOUT_MS: int(5000, 100, 120_000, 'A webhook receiver must answer within this'),
  WEBHOOK_MAX_IN_FLIGHT: int(100, 1, 1000, 'Deliveries in flight to one endpoint at most, over every worker'),
  WEBHOOK_CONCURRENCY: int(200, 1, 10_000, 'Deliveries this worker process makes at once (any endpoints)'),
  HISTORY_BATCH_SIZE: int(1000, 1, 10_000, 'Events a history writer stores per transaction, at most'),
  HISTORY_POLL_MS: int(100, 10, 10_000, 'How long an idle history writer waits before reading again'),
  HISTORY_CLAIM_IDLE_MS: int(30_000, 1000, 3_600_000, 'Events another writer read but has not stored for this long are taken over'),
  HISTORY_RETENTION_DAYS: int(400, 1, 36_500, 'Tickets and their timelines are kept this long in history'),
  PERSONAL_DATA_RETENTION_DAYS: int(30, 1, 36_500, 'Personal fields of stored records are erased this long after the record'),
  AUDIT_RETENTION_DAYS: int(730, 1, 36_500, 'Audit entries are kept this long')
})
export type WorkerEnv = Static<typeof WorkerEnv>

export class ConfigError extends Error {
  override name = 'ConfigError'
}

/** The message of anything thrown: an Error's message, else its text. */
export function errorMessage (err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}

/**
 * Reads the variables a schema names from `env`, applies defaults and converts strings to numbers
 * and booleans, then fails on the first bad one with its name and the rule it breaks.
 */
export function parseEnv<P extends TProperties> (schema: TObject<P>, env: NodeJS.ProcessEnv): Static<TObject<P>> {
  const picked: Record<string, unknown> = {}
  for (const key of Object.keys(schema.properties)) {
    const raw = env[key]
    if (raw !== undefined && raw !== '') picked[key] = raw
  }
  const value = Value.Convert(schema, Value.Default(schema, picked))
  // One problem per variable (the first), worded with the values it allows where it has a list.
  const problems = new Map<string, string>()
  for (const e of Value.Errors(schema, value)) {
    const name = e.path.replace(/^\//, '') || '(env)'
    if (problems.has(name)) continue
    const allowed = allowedValues(schema.properties[name])
    const rule = allowed === undefined ? e.message : `must be one of ${allowed.join(', ')}`
    const shown = name in picked ? ` (got ${JSON.stringify(redactIfSecret(name, picked[name]))})` : ''
    problems.set(name, `${name}: ${rule}${shown}`)
  }
  if (problems.size > 0) throw new ConfigError(`invalid environment: ${[...problems.values()].join('; ')}`)
  return value as Static<TObject<P>>
}

function allowedValues (schema: TSchema | undefined): string[] | undefined {
  const members = (schema as { anyOf?: Array<{ const?: unknown }> } | undefined)?.anyOf
  if (members === undefined || !members.every((m) => m.const !== undefined)) return undefined
  return members.map((m) => String(m.const))
}

function redactIfSecret (name: string, value: unknown): unknown {
  return /SECRET|KEY|PASSWORD/.test(name) ? '[redacted]' : value
}
