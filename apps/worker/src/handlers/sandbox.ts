import { createHash } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Product } from '@request-out/product-catalog'
import { checkNik } from './nik.js'
import { ProductRejection, type ProductHandler } from './product-handler.js'

/** The seed's example NIK, used when a ticket brings none. */
const SEED_NIK = '12345678910'

/**
 * The built-in reference product (digitalid/enrollment/ektp by default): answers like the seed's
 * success example, checks a given NIK for real, and marks its records as coming from the sandbox.
 */
export function sandboxHandler (product: Product): ProductHandler {
  const latencyMs = product.definition.Sandbox?.LatencyMs ?? 0
  return async (ticket, { signal }) => {
    if (latencyMs > 0) await sleep(latencyMs, undefined, { signal })
    const given = ticket.Data?.NIK
    if (given !== undefined) {
      if (typeof given !== 'string') throw new ProductRejection('NIK must be a string of 16 digits')
      const check = checkNik(given)
      if (!check.valid) throw new ProductRejection(check.reason)
    }
    // Stable per ticket, so a ticket processed twice still describes the same resource.
    const digest = createHash('sha256').update(`${ticket.ClientId}\u0000${ticket.TicketId}`).digest()
    return {
      ResourceType: 'data',
      Resource: 'nik',
      ResourceId: String(digest.readUInt32BE(0) % 900_000_000 + 100_000_000),
      Data: { Image: 'ok', NIK: typeof given === 'string' ? given : SEED_NIK, Status: 'ok', Source: 'sandbox' }
    }
  }
}
