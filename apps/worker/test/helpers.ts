import { Queue } from 'bullmq'
import { Redis } from 'ioredis'
import pino, { type Logger } from 'pino'
import { DEVELOPMENT_FINGERPRINT_KEY } from '@request-out/runtime'
import { TICKET_JOB_NAME, type ProductDefinition, type TicketEnvelope, type TicketJob } from '@request-out/contracts'
import { parseCatalog, retryPolicy } from '@request-out/product-catalog'
import { RecordStore, TicketFingerprints } from '@request-out/record-store'
import { TEST_REDIS_URL, deleteKeys, uniquePrefix, waitFor, writeCatalog } from '@request-out/test-support'
import { loadWorkerConfig } from '../src/config.js'
import { WorkerService } from '../src/worker-service.js'
import { redisKeys, ticketKey } from '@request-out/redis-keys'

interface Teardown { teardown: (fn: () => unknown) => void }

const silentLog = pino({ level: 'silent' })
/** As a development intake makes them: a ticket the worker tests submit compares with an intake's re-POST. */
const fingerprints = new TicketFingerprints(DEVELOPMENT_FINGERPRINT_KEY)

export function sandboxProduct (identifier: string, extra: Partial<ProductDefinition> = {}): ProductDefinition {
  return { Subject: 'test', SubjectType: 'sandbox', SubjectIdentifier: identifier, Name: identifier, Kind: 'sandbox', ...extra }
}

export function httpProduct (identifier: string, url: string, extra: Partial<ProductDefinition> = {}): ProductDefinition {
  return {
    Subject: 'test',
    SubjectType: 'http',
    SubjectIdentifier: identifier,
    Name: identifier,
    Kind: 'http',
    Attempts: 3,
    Backoff: { DelayMs: 50, Jitter: 0.5 },
    TimeoutMs: 1000,
    Http: { Url: url },
    ...extra
  }
}

export const keyOf = (p: ProductDefinition): string => `${p.Subject}/${p.SubjectType}/${p.SubjectIdentifier}`

/**
 * A test's own Redis namespace: the product queues of `products`, a record store, and a producer
 * that enqueues exactly as the intake does. Cleaned up after the test.
 */
export async function testBench (t: Teardown, products: ProductDefinition[], redisUrl = TEST_REDIS_URL) {
  const prefix = uniquePrefix('worker')
  const catalogFile = writeCatalog(products)
  const catalog = parseCatalog({ Products: products })
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: null })
  redis.on('error', () => {})
  const store = new RecordStore(redis, { prefix, ttlSeconds: 3600 })
  const queues = new Map(catalog.list().map((p) => {
    const { name, prefix: queuePrefix } = redisKeys(prefix).productQueue(p.key)
    const q = new Queue<TicketJob>(name, { connection: redis, prefix: queuePrefix })
    q.on('error', () => {})
    return [p.key, q] as const
  }))
  const env = { REDIS_URL: redisUrl, QUEUE_PREFIX: prefix, PRODUCTS_FILE: catalogFile, LOG_LEVEL: 'silent' }
  const services: WorkerService[] = []
  t.teardown(async () => {
    await Promise.all(services.map(async (s) => s.stop()))
    await Promise.all([...queues.values()].map(async (q) => q.close()))
    redis.disconnect()
    await deleteKeys(prefix, redisUrl)
  })

  return {
    prefix,
    env,
    store,
    queues,
    catalog,
    /** Claims and enqueues a ticket the way the intake does. */
    async submit (productKeyValue: string, ticketId: string, data?: Record<string, unknown>, clientId = 'client-a'): Promise<void> {
      const product = catalog.get(productKeyValue)
      if (product === undefined) throw new Error(`no product ${productKeyValue}`)
      const d = product.definition
      const ticket = { TicketId: ticketId, Subject: d.Subject, SubjectType: d.SubjectType, SubjectIdentifier: d.SubjectIdentifier, ...(data === undefined ? {} : { Data: data }) }
      const claim = await store.claim(clientId, ticketId, fingerprints.of(ticket), product.key)
      await queues.get(product.key)?.add(TICKET_JOB_NAME, { ...ticket, ClientId: clientId, RequestId: `req-${ticketId}`, AcceptedAt: Date.now(), ClaimedAt: claim.acceptedAt },
        { jobId: ticketKey(clientId, ticketId), ...retryPolicy.jobOptions(product) })
    },
    async record (ticketId: string, clientId = 'client-a'): Promise<TicketEnvelope | undefined> {
      const state = await store.read(clientId, ticketId)
      return state.exists ? state.record : undefined
    },
    async waitForRecord (ticketId: string, timeoutMs = 15_000, clientId = 'client-a'): Promise<TicketEnvelope> {
      return waitFor(`record of ${ticketId}`, async () => this.record(ticketId, clientId), timeoutMs, 20)
    },
    /** An in-process worker over these products (or WORKER_PRODUCTS in `extraEnv`). */
    async startWorker (extraEnv: Record<string, string> = {}, log: Logger = silentLog): Promise<WorkerService> {
      const service = new WorkerService(loadWorkerConfig({ ...env, ...extraEnv }), log)
      services.push(service)
      await service.start()
      return service
    }
  }
}

export { json, okResult, startUpstream } from '@request-out/test-support'
