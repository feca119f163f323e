import { createHash } from 'node:crypto'

/**
 * One id for a client's ticket, used as the Redis key suffix and the BullMQ job id.
 * base64url never contains "." and TicketIds never contain ":", so the id is injective over
 * (clientId, ticketId), has no ":" (BullMQ refuses it) and is never all digits (BullMQ reserves those).
 */
export function ticketKey (clientId: string, ticketId: string): string {
  return `${Buffer.from(clientId, 'utf8').toString('base64url')}.${ticketId}`
}

export function parseTicketKey (key: string): { clientId: string, ticketId: string } | undefined {
  const dot = key.indexOf('.')
  if (dot < 0) return undefined
  return {
    clientId: Buffer.from(key.slice(0, dot), 'base64url').toString('utf8'),
    ticketId: key.slice(dot + 1)
  }
}

type Step = { text: string } | { value: unknown }

/**
 * Stable JSON: object keys sorted at every depth, so equal content gives equal text. Iterative
 * (an explicit stack), so no input depth can overflow the call stack; the text is the same as the
 * recursive form's, so fingerprints of tickets stored before stay valid.
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

/** What makes a re-POST "the same ticket": the product and the input, not the TicketId alone. */
export function ticketFingerprint (ticket: {
  Subject: string
  SubjectType: string
  SubjectIdentifier: string
  Data?: Record<string, unknown> | undefined
}): string {
  return createHash('sha256')
    .update(canonical([ticket.Subject, ticket.SubjectType, ticket.SubjectIdentifier, ticket.Data ?? null]))
    .digest('base64url')
}
