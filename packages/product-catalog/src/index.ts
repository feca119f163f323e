export * from './product-catalog.js'
export * from './default-catalog.js'
