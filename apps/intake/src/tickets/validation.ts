import { Ajv, type ValidateFunction } from 'ajv'
import { MAX_DATA_DEPTH, dataDepthExceeds, TicketRequest as TicketRequestSchema, type TicketRequest } from '@request-out/contracts'
import type { ProductCatalog } from '@request-out/product-catalog'
import { HttpProblem, validationProblem } from '../http-problem.js'
import { fieldErrors } from '../plugins/error-handling.js'

const tooDeep = (field: string): HttpProblem =>
  validationProblem([{ Field: field, Message: `must not nest deeper than ${MAX_DATA_DEPTH} levels` }])

/**
 * What JSON Schema alone cannot check of a ticket: how deep `Data` nests (before anything walks
 * it), the product's own input schema (plain JSON Schema from the catalog file, compiled once by
 * Ajv), and a batch's tickets, each checked as a single POST's body is.
 */
export function ticketValidation (catalog: ProductCatalog, bodyLimitBytes: number) {
  const ajv = new Ajv({ allErrors: true, strict: false })
  const inputValidators = new Map<string, ValidateFunction>()
  for (const product of catalog.list()) {
    if (product.inputSchema !== undefined) inputValidators.set(product.key, ajv.compile(product.inputSchema))
  }
  const validateTicket = ajv.compile(TicketRequestSchema)

  return {
    depthProblem (ticket: TicketRequest): HttpProblem | undefined {
      return ticket.Data !== undefined && dataDepthExceeds(ticket.Data) ? tooDeep('/Data') : undefined
    },

    schemaProblem (productKey: string, ticket: TicketRequest): HttpProblem | undefined {
      const validateInput = inputValidators.get(productKey)
      if (validateInput === undefined || validateInput(ticket.Data ?? {})) return undefined
      return validationProblem(fieldErrors(validateInput.errors ?? [], '/Data'))
    },

    /** A batch entry as a ticket, or why it is not one (a single POST would have been refused the same way). */
    batchItem (item: Record<string, unknown>): { ticket: TicketRequest } | { problem: HttpProblem } {
      // Depth first, without recursion: serializing a ticket nested thousands of levels deep
      // overflows the stack. Its own `Data` depth is the single POST's check, in depthProblem().
      if (dataDepthExceeds(item, MAX_DATA_DEPTH + 1)) return { problem: tooDeep(dataDepthExceeds(item.Data) ? '/Data' : '/') }
      // Bytes, as a single POST's body limit counts them (not UTF-16 units).
      if (Buffer.byteLength(JSON.stringify(item)) > bodyLimitBytes) return { problem: new HttpProblem('PAYLOAD_TOO_LARGE') }
      if (!validateTicket(item)) return { problem: validationProblem(fieldErrors(validateTicket.errors ?? [])) }
      return { ticket: item as unknown as TicketRequest }
    }
  }
}
