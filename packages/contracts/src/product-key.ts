export interface ProductRef {
  Subject: string
  SubjectType: string
  SubjectIdentifier: string
}

/**
 * `Subject/SubjectType/SubjectIdentifier`. The three parts never contain `/` (see `NamePattern`),
 * so the key is unambiguous and splits back.
 */
export function productKey (ref: ProductRef): string {
  return `${ref.Subject}/${ref.SubjectType}/${ref.SubjectIdentifier}`
}

export function parseProductKey (key: string): ProductRef | undefined {
  const parts = key.split('/')
  if (parts.length !== 3 || parts.some((p) => p === '')) return undefined
  const [Subject, SubjectType, SubjectIdentifier] = parts as [string, string, string]
  return { Subject, SubjectType, SubjectIdentifier }
}

/**
 * Where a product's BullMQ queue lives. The hash tag `{key}` in the prefix keeps every key of
 * one queue in one Redis Cluster slot (BullMQ's scripts need that) while different products
 * hash to different slots, so products spread over a cluster's nodes.
 */
export function productQueue (queuePrefix: string, key: string): { name: string, prefix: string } {
  return { name: key, prefix: `${queuePrefix}:{${key}}` }
}

/** The one job name used on every product queue. */
export const TICKET_JOB_NAME = 'ticket'
