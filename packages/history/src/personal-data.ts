/** What a personal value becomes in a stored record once erased. */
export const ERASED = '[erased]'

/**
 * A copy of `value` with every property named in `fields` replaced by ERASED, at any depth (an
 * upstream may nest what it echoes). Values that are already ERASED stay as they are.
 */
export function erasePersonalFields<T> (value: T, fields: ReadonlySet<string>): T {
  if (Array.isArray(value)) return value.map((v: unknown) => erasePersonalFields(v, fields)) as T
  if (value === null || typeof value !== 'object') return value
  const out: Record<string, unknown> = {}
  for (const [key, v] of Object.entries(value)) {
    out[key] = fields.has(key) && v !== null && v !== undefined ? ERASED : erasePersonalFields(v, fields)
  }
  return out as T
}
