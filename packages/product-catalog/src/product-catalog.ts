import { readFileSync } from 'node:fs'
import { Value } from '@sinclair/typebox/value'
import { BreakerSettings, CatalogFile, ProductDefinition, errorMessage, productKey } from '@request-out/contracts'
import { DEFAULT_CATALOG } from './default-catalog.js'

/** A catalog entry with every default applied once, so nothing downstream guesses. */
export interface Product {
  key: string
  definition: ProductDefinition
  name: string
  kind: ProductDefinition['Kind']
  concurrency: number
  attempts: number
  backoff: { delayMs: number, jitter: number }
  timeoutMs: number
  rateLimit: { max: number, durationMs: number } | undefined
  /** The longest an upstream's back-pressure (429 / 503 with a hint) pauses the product. */
  maxPauseMs: number
  /** The upstream breaker's settings with their defaults, or undefined when the catalog turns it off. */
  breaker: Breaker | undefined
  /** What the intakes do with a new ticket while the breaker is open. */
  whenUpstreamDown: 'refuse' | 'queue'
  /** `client`: clients take turns within the product (fair-share priorities); `fifo`: arrival order. */
  fairness: 'client' | 'fifo'
  /** Tickets of one client running at once over every worker, or undefined for no cap. */
  clientConcurrency: number | undefined
  /** Availability before any admin switch. */
  initiallyAvailable: boolean
  inputSchema: Record<string, unknown> | undefined
  /** Top-level Data fields marked `"x-personal": true` in the input schema (redacted from logs). */
  personalFields: string[]
  /**
   * Values that must never leave the worker in a record or a log line: the upstream's header values
   * (API keys) and every `${NAME}` the entry took from the environment. An upstream may echo them.
   */
  secrets: string[]
}

/** BreakerSettings with every default applied. */
export interface Breaker {
  windowMs: number
  minCalls: number
  failureRatio: number
  consecutiveFailures: number
  openMs: number
  maxOpenMs: number
}

export class CatalogError extends Error {
  override name = 'CatalogError'
}

export class ProductCatalog {
  readonly #products: Map<string, Product>

  constructor (file: CatalogFile, secretsByEntry: string[][] = []) {
    this.#products = new Map()
    for (const [i, definition] of file.Products.entries()) {
      const product = resolveProduct(definition, secretsByEntry[i] ?? [])
      if (this.#products.has(product.key)) throw new CatalogError(`product ${product.key} is declared twice`)
      this.#products.set(product.key, product)
    }
  }

  get (key: string): Product | undefined {
    return this.#products.get(key)
  }

  list (): Product[] {
    return [...this.#products.values()]
  }

  keys (): string[] {
    return [...this.#products.keys()]
  }
}

/** A catalog entry with the schema's defaults filled in (TypeBox `default`, stated once in contracts). */
type ResolvedDefinition = ProductDefinition & Required<Pick<ProductDefinition, 'Available' | 'Concurrency' | 'Attempts' | 'TimeoutMs' | 'Fairness' | 'MaxPauseMs' | 'WhenUpstreamDown'>> & {
  Backoff: { DelayMs: number, Jitter: number }
}

function resolveProduct (definition: ProductDefinition, fromEnv: string[]): Product {
  const d = Value.Default(ProductDefinition, structuredClone(definition)) as ResolvedDefinition
  const inputSchema = d.InputSchema
  const properties = (inputSchema?.properties ?? {}) as Record<string, Record<string, unknown>>
  return {
    key: productKey(d),
    definition: d,
    name: d.Name,
    kind: d.Kind,
    concurrency: d.Concurrency,
    attempts: d.Attempts,
    backoff: { delayMs: d.Backoff.DelayMs, jitter: d.Backoff.Jitter },
    timeoutMs: d.TimeoutMs,
    rateLimit: d.RateLimit === undefined ? undefined : { max: d.RateLimit.Max, durationMs: d.RateLimit.DurationMs },
    maxPauseMs: d.MaxPauseMs,
    breaker: resolveBreaker(d.Breaker),
    whenUpstreamDown: d.WhenUpstreamDown,
    fairness: d.Fairness,
    clientConcurrency: d.ClientConcurrency,
    initiallyAvailable: d.Available,
    inputSchema,
    personalFields: Object.entries(properties).filter(([, s]) => s?.['x-personal'] === true).map(([k]) => k),
    // Short values would redact ordinary words out of messages; they are no secrets anyway.
    secrets: [...new Set([...Object.values(d.Http?.Headers ?? {}), ...fromEnv])].filter((v) => v.length >= 6)
  }
}

/** An entry's BreakerSettings with their defaults (stated in contracts), or undefined when it is off. */
function breakerSettings (given: ProductDefinition['Breaker']): Required<BreakerSettings> | undefined {
  return given === false ? undefined : Value.Default(BreakerSettings, structuredClone(given ?? {})) as Required<BreakerSettings>
}

function resolveBreaker (given: ProductDefinition['Breaker']): Breaker | undefined {
  const b = breakerSettings(given)
  if (b === undefined) return undefined
  return {
    windowMs: b.WindowMs,
    minCalls: b.MinCalls,
    failureRatio: b.FailureRatio,
    consecutiveFailures: b.ConsecutiveFailures,
    openMs: b.OpenMs,
    maxOpenMs: b.MaxOpenMs
  }
}

/** Replaces `${NAME}` in every string with the environment's value, so secrets stay out of the file. */
function substituteEnv (value: unknown, env: NodeJS.ProcessEnv, path: string, used: string[]): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => {
      const v = env[name]
      if (v === undefined) throw new CatalogError(`${path}: environment variable ${name} is not set`)
      used.push(v)
      return v
    })
  }
  if (Array.isArray(value)) return value.map((v, i) => substituteEnv(v, env, `${path}[${i}]`, used))
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substituteEnv(v, env, `${path}.${k}`, used)]))
  }
  return value
}

function entryName (raw: unknown, index: number): string {
  const p = (raw as { Products?: Array<Record<string, unknown>> }).Products?.[index]
  const key = p === undefined ? '' : ` (${String(p.Subject)}/${String(p.SubjectType)}/${String(p.SubjectIdentifier)})`
  return `Products[${index}]${key}`
}

/** Validates a parsed catalog; the error names the entry and the field. */
export function parseCatalog (raw: unknown, env: NodeJS.ProcessEnv = process.env, source = 'catalog'): ProductCatalog {
  const errors = [...Value.Errors(CatalogFile, raw)]
  if (errors.length > 0) {
    const problems = errors.slice(0, 5).map((e) => {
      const m = /^\/Products\/(\d+)(.*)$/.exec(e.path)
      const where = m === null ? (e.path || '/') : `${entryName(raw, Number(m[1]))} ${m[2] || '/'}`
      return `${where}: ${e.message}`
    })
    throw new CatalogError(`${source} is not a valid catalog: ${problems.join('; ')}`)
  }
  const secretsByEntry: string[][] = []
  const substituted = {
    Products: (raw as CatalogFile).Products.map((entry, i) => {
      const used: string[] = []
      const product = substituteEnv(entry, env, `${source}.Products[${i}]`, used) as ProductDefinition
      secretsByEntry.push(used)
      return product
    })
  }
  substituted.Products.forEach((p, i) => {
    if (p.Kind === 'http' && p.Http === undefined) throw new CatalogError(`${source}: ${entryName(raw, i)}: Kind "http" needs an "Http" section`)
    // Request Out sends it itself, the same on every try of a ticket: a fixed one would make every ticket one request.
    const fixed = Object.keys(p.Http?.Headers ?? {}).find((h) => h.toLowerCase() === 'idempotency-key')
    const breaker = breakerSettings(p.Breaker)
    if (breaker !== undefined && breaker.MaxOpenMs < breaker.OpenMs) throw new CatalogError(`${source}: ${entryName(raw, i)} /Breaker/MaxOpenMs: must be at least OpenMs (${breaker.OpenMs})`)
    if (fixed !== undefined) throw new CatalogError(`${source}: ${entryName(raw, i)} /Http/Headers/${fixed}: Request Out sends each ticket's own Idempotency-Key; remove this header`)
  })
  return new ProductCatalog(substituted, secretsByEntry)
}

/** Loads `PRODUCTS_FILE`, or the default catalog (the sandbox product) when no path is given. */
export function loadCatalog (path: string | undefined, env: NodeJS.ProcessEnv = process.env): ProductCatalog {
  if (path === undefined) return parseCatalog(structuredClone(DEFAULT_CATALOG), env, 'default catalog')
  let raw: unknown
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'))
  } catch (err) {
    throw new CatalogError(`PRODUCTS_FILE ${path} cannot be read as JSON: ${errorMessage(err)}`)
  }
  return parseCatalog(raw, env, `PRODUCTS_FILE ${path}`)
}

/** Personal in every product's tickets and records, whatever its schema says. */
const ALWAYS_PERSONAL = ['NIK', 'Image']

/**
 * The field names whose values are personal in a ticket or record of this product: its
 * `"x-personal"` ones and NIK and Image (also for a product no longer in the catalog).
 */
export function personalFields (product: Pick<Product, 'personalFields'> | undefined): ReadonlySet<string> {
  return new Set([...(product?.personalFields ?? []), ...ALWAYS_PERSONAL])
}
