export { CatalogError, loadCatalog, parseCatalog, personalFields, ProductCatalog, type Breaker, type Product } from './product-catalog.js'
export { DEFAULT_CATALOG } from './default-catalog.js'
export { retryPolicy } from './retry-policy.js'
