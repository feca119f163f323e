import type { CatalogFile } from '@request-out/contracts'

/** The catalog used when PRODUCTS_FILE is not set: the seed's reference product, served by the sandbox. */
export const DEFAULT_CATALOG: CatalogFile = {
  Products: [
    {
      Subject: 'digitalid',
      SubjectType: 'enrollment',
      SubjectIdentifier: 'ektp',
      Name: 'Digital ID enrollment (e-KTP), sandbox',
      Kind: 'sandbox',
      InputSchema: {
        type: 'object',
        additionalProperties: false,
        properties: {
          NIK: { type: 'string', maxLength: 32, 'x-personal': true, description: 'Indonesian NIK, 16 digits' },
          Image: { type: 'string', maxLength: 8192, 'x-personal': true }
        }
      },
      Concurrency: 50,
      Attempts: 3,
      TimeoutMs: 10_000,
      Sandbox: { LatencyMs: 0 }
    }
  ]
}
