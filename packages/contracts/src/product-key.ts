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

/** The one job name used on every product queue. */
export const TICKET_JOB_NAME = 'ticket'
