import type { Product } from '@request-out/product-catalog'
import { httpHandler, type UpstreamObserver } from './http.js'
import { sandboxHandler } from './sandbox.js'
import type { ProductHandler } from './product-handler.js'

export { ProductRejection, UpstreamAnswerError, UpstreamPause, type ProductHandler } from './product-handler.js'

/** The handler of a product's kind, and what to close when the worker stops. */
export function createHandler (product: Product, observe?: UpstreamObserver): { handle: ProductHandler, close: () => Promise<void> } {
  switch (product.kind) {
    case 'sandbox':
      return { handle: sandboxHandler(product), close: async () => {} }
    case 'http': {
      const handle = httpHandler(product, observe)
      return { handle, close: handle.close }
    }
  }
}
