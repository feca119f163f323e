/** What a personal value becomes in a stored record once erased. */
export const ERASED = '[erased]'

/** What a personal value shows as in an operator's view of a record. */
export const REDACTED = '[redacted]'

/**
 * A copy of `value` with every property named in `fields` replaced by `replacement`, at any depth
 * (an upstream may nest what it echoes).
 */
export function erasePersonalFields<T> (value: T, fields: ReadonlySet<string>, replacement: string = ERASED): T {
  if (Array.isArray(value)) return value.map((v: unknown) => erasePersonalFields(v, fields, replacement)) as T
  if (value === null || typeof value !== 'object') return value
  const out: Record<string, unknown> = {}
  for (const [key, v] of Object.entries(value)) {
    // A value erased already stays "[erased]", also in a redacted view: it tells what happened.
    out[key] = fields.has(key) && v !== null && v !== undefined && v !== ERASED ? replacement : erasePersonalFields(v, fields, replacement)
  }
  return out as T
}
