import { Type, type Static } from '@sinclair/typebox'
import { NamePattern } from './ticket.js'

const ProductKind = { SANDBOX: 'sandbox', HTTP: 'http' } as const
type ProductKind = (typeof ProductKind)[keyof typeof ProductKind]

const name = Type.String({ minLength: 1, maxLength: 64, pattern: NamePattern })
const positiveInt = (description: string, maximum?: number, defaultValue?: number) =>
  Type.Integer({ minimum: 1, ...(maximum === undefined ? {} : { maximum }), ...(defaultValue === undefined ? {} : { default: defaultValue }), description })

const BackoffSettings = Type.Object(
  {
    /** @defaultValue 1000 */
    DelayMs: positiveInt('First retry delay; each next retry doubles it (with jitter)', undefined, 1000),
    /** @defaultValue 0.5 */
    Jitter: Type.Optional(Type.Number({ minimum: 0, maximum: 1, default: 0.5, description: 'Share of the delay that is randomised' }))
  },
  { additionalProperties: false, default: { DelayMs: 1000, Jitter: 0.5 } }
)

const RateLimitSettings = Type.Object(
  { Max: positiveInt('Jobs at most per window, over every worker'), DurationMs: positiveInt('Window length') },
  { additionalProperties: false }
)

/**
 * The product's upstream circuit breaker, shared by every worker: it opens on a share of failures
 * over a sliding window or on failures in a row, and an open breaker makes the intakes answer "not
 * available now" (or queue, per WhenUpstreamDown) until a probe try succeeds.
 */
export const BreakerSettings = Type.Object(
  {
    /** @defaultValue 30000 */
    WindowMs: Type.Optional(positiveInt('The sliding window over which upstream calls are counted', 3_600_000, 30_000)),
    /** @defaultValue 10 */
    MinCalls: Type.Optional(positiveInt('Calls in the window before its failure share can open the breaker', 100_000, 10)),
    /** @defaultValue 0.5 */
    FailureRatio: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 1, default: 0.5, description: 'Share of failed calls in the window that opens the breaker' })),
    /** @defaultValue 10 */
    ConsecutiveFailures: Type.Optional(positiveInt('Failures in a row that open the breaker', 100_000, 10)),
    /** @defaultValue 30000 */
    OpenMs: Type.Optional(positiveInt('How long the breaker stays open before one probe try; doubles on each failed probe', 86_400_000, 30_000)),
    /** @defaultValue 300000 */
    MaxOpenMs: Type.Optional(positiveInt('The longest the open interval grows to', 86_400_000, 300_000))
  },
  { additionalProperties: false }
)
export type BreakerSettings = Static<typeof BreakerSettings>

const SandboxSettings = Type.Object(
  { LatencyMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 600_000 })) },
  { additionalProperties: false }
)

const HttpSettings = Type.Object(
  {
    Url: Type.String({ pattern: '^https?://', description: 'Upstream endpoint the ticket is POSTed to' }),
    Headers: Type.Optional(Type.Record(Type.String(), Type.String())),
    Connections: Type.Optional(positiveInt('Keep-alive connections to the upstream per worker process'))
  },
  { additionalProperties: false }
)

/** One product of the catalog file (`PRODUCTS_FILE`). */
export const ProductDefinition = Type.Object(
  {
    Subject: name,
    SubjectType: name,
    SubjectIdentifier: name,
    Name: Type.String({ minLength: 1, maxLength: 200 }),
    Kind: Type.Union([Type.Literal(ProductKind.SANDBOX), Type.Literal(ProductKind.HTTP)]),
    InputSchema: Type.Optional(Type.Record(Type.String(), Type.Unknown(), {
      description: 'JSON Schema for the ticket\'s Data; properties with "x-personal": true are redacted from logs'
    })),
    /** @defaultValue true */
    Available: Type.Optional(Type.Boolean({ default: true, description: 'Initial availability, before any admin switch' })),
    /** @defaultValue 10 */
    Concurrency: Type.Optional(positiveInt('Jobs run at once per worker process', 10_000, 10)),
    /** @defaultValue 3 */
    Attempts: Type.Optional(positiveInt('Tries before the ticket fails with PRODUCT_FAILED', 100, 3)),
    /** @defaultValue `{ DelayMs: 1000, Jitter: 0.5 }` */
    Backoff: Type.Optional(BackoffSettings),
    /** @defaultValue 30000 */
    TimeoutMs: Type.Optional(positiveInt('Time allowed for one try', 3_600_000, 30_000)),
    RateLimit: Type.Optional(RateLimitSettings),
    /** @defaultValue 600000 */
    MaxPauseMs: Type.Optional(positiveInt('The longest an upstream\'s 429 or 503 with Retry-After (or RateLimit fields) pauses the product on every worker', 86_400_000, 600_000)),
    /** @defaultValue `{}` (every BreakerSettings default) */
    Breaker: Type.Optional(Type.Union([Type.Literal(false), BreakerSettings], { description: 'The upstream circuit breaker\'s settings; false turns it off' })),
    /** @defaultValue "refuse" */
    WhenUpstreamDown: Type.Optional(Type.Union([Type.Literal('refuse'), Type.Literal('queue')], {
      default: 'refuse',
      description: 'While the breaker is open: refuse answers new tickets 404 PRODUCT_NOT_AVAILABLE with Retry-After; queue accepts them to run once the upstream is back'
    })),
    /** @defaultValue "client" */
    Fairness: Type.Optional(Type.Union([Type.Literal('client'), Type.Literal('fifo')], {
      default: 'client',
      description: 'client: clients take turns (one client\'s flood does not hold up another\'s tickets), FIFO within a client; fifo: first come, first served'
    })),
    ClientConcurrency: Type.Optional(positiveInt('Tickets of one client running at once, over every worker (default: no cap)', 10_000)),
    Sandbox: Type.Optional(SandboxSettings),
    Http: Type.Optional(HttpSettings)
  },
  { additionalProperties: false, $id: 'ProductDefinition' }
)
export type ProductDefinition = Static<typeof ProductDefinition>

export const CatalogFile = Type.Object(
  { Products: Type.Array(ProductDefinition, { minItems: 1 }) },
  { additionalProperties: false, $id: 'CatalogFile' }
)
export type CatalogFile = Static<typeof CatalogFile>
