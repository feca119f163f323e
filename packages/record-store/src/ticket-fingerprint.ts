import { createHash, createHmac, createSecretKey, type KeyObject } from 'node:crypto'

/** What a fingerprint becomes once the ticket's personal data is erased: a re-POST then answers the ticket's state. */
export const ERASED_FINGERPRINT = 'erased'

type Step = { text: string } | { value: unknown }

/**
 * Stable JSON: object keys sorted at every depth, so equal content gives equal text. Iterative
 * (an explicit stack), so no input depth can overflow the call stack.
 */
function canonical (root: unknown): string {
  const out: string[] = []
  const stack: Step[] = [{ value: root }]
  while (stack.length > 0) {
    const step = stack.pop() as Step
    if ('text' in step) {
      out.push(step.text)
      continue
    }
    const value = step.value
    if (Array.isArray(value)) {
      stack.push({ text: ']' })
      for (let i = value.length - 1; i >= 0; i--) {
        stack.push({ value: value[i] })
        if (i > 0) stack.push({ text: ',' })
      }
      stack.push({ text: '[' })
    } else if (value !== null && typeof value === 'object') {
      const keys = Object.keys(value).sort()
      stack.push({ text: '}' })
      for (let i = keys.length - 1; i >= 0; i--) {
        const k = keys[i] as string
        stack.push({ value: (value as Record<string, unknown>)[k] })
        stack.push({ text: `${JSON.stringify(k)}:` })
        if (i > 0) stack.push({ text: ',' })
      }
      stack.push({ text: '{' })
    } else {
      out.push(JSON.stringify(value) ?? 'null')
    }
  }
  return out.join('')
}

/** The fields whose equality makes a re-POST "the same ticket": the product and the input, not the TicketId alone. */
export interface FingerprintedTicket {
  Subject: string
  SubjectType: string
  SubjectIdentifier: string
  Data?: Record<string, unknown> | undefined
}

const content = (ticket: FingerprintedTicket): string =>
  canonical([ticket.Subject, ticket.SubjectType, ticket.SubjectIdentifier, ticket.Data ?? null])

/** A ticket's fingerprint: the value to store, and whether a stored one (under any key) is of the same fields. */
export interface TicketFingerprint {
  value: string
  matches: (stored: string) => boolean
}

interface Key {
  id: string
  /** Imported once: a string key is converted again by every createHmac() it is passed to. */
  secret: KeyObject
}

/** A key's id: public (it is stored beside each fingerprint), so derived one way from the key. */
const keyOf = (secret: string): Key => ({ secret: createSecretKey(secret, 'utf8'), id: createHmac('sha256', secret).update('request-out key id').digest('base64url').slice(0, 8) })

const mac = (key: Key, text: string): string => `${key.id}.${createHmac('sha256', key.secret).update(text).digest('base64url')}`

/**
 * Fingerprints of tickets: an HMAC-SHA-256 of their fields under TICKET_FINGERPRINT_KEY, stored as
 * `<key id>.<mac>`, so a personal value in the fields cannot be found from a stored fingerprint by
 * trying the few values it could take. A fingerprint stored under the previous key is compared under
 * that key; one under a key no intake knows any more, or erased, cannot be compared and counts as
 * the same ticket (a re-POST answers its state rather than 409). One stored before keys existed (a
 * bare SHA-256) is compared as it was made, until it expires.
 */
export class TicketFingerprints {
  readonly #current: Key
  readonly #previous: Key | undefined

  constructor (currentKey: string, previousKey?: string) {
    this.#current = keyOf(currentKey)
    this.#previous = previousKey === undefined || previousKey === currentKey ? undefined : keyOf(previousKey)
  }

  of (ticket: FingerprintedTicket): TicketFingerprint {
    const text = content(ticket)
    const value = mac(this.#current, text)
    return {
      value,
      matches: (stored) => {
        if (stored === value) return true
        const dot = stored.indexOf('.')
        if (dot < 0) return stored === ERASED_FINGERPRINT || stored === createHash('sha256').update(text).digest('base64url')
        const id = stored.slice(0, dot)
        if (id === this.#current.id) return false
        if (this.#previous !== undefined && id === this.#previous.id) return stored === mac(this.#previous, text)
        return true
      }
    }
  }
}
