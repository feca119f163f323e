import { ConfigError, WorkerEnv, parseEnv, errorMessage } from '@request-out/contracts'
import { loadCatalog, type Product, type ProductCatalog } from '@request-out/product-catalog'
import type { RedisTarget } from '@request-out/redis-connection'

export interface WorkerConfig {
  env: WorkerEnv
  redis: RedisTarget
  catalog: ProductCatalog
  /** The products this process serves: WORKER_PRODUCTS, or the whole catalog. */
  products: Product[]
}

export function loadWorkerConfig (source: NodeJS.ProcessEnv = process.env): WorkerConfig {
  const env = parseEnv(WorkerEnv, source)
  let catalog: ProductCatalog
  try {
    catalog = loadCatalog(env.PRODUCTS_FILE, source)
  } catch (err) {
    throw new ConfigError(`PRODUCTS_FILE: ${errorMessage(err)}`)
  }
  let products = catalog.list()
  if (env.WORKER_PRODUCTS !== undefined) {
    const wanted = env.WORKER_PRODUCTS.split(',').map((s) => s.trim())
    const unknown = wanted.filter((k) => catalog.get(k) === undefined)
    if (unknown.length > 0) {
      throw new ConfigError(`WORKER_PRODUCTS: not in the catalog: ${unknown.join(', ')} (known: ${catalog.keys().join(', ')})`)
    }
    products = wanted.map((k) => catalog.get(k) as Product)
  }
  return { env, redis: { url: env.REDIS_URL, clusterNodes: env.REDIS_CLUSTER_NODES }, catalog, products }
}
