export * from './product-catalog.js'
export * from './default-catalog.js'
export * from './retry-policy.js'
