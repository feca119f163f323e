/**
 * Keyset pagination: a page ends at a row (its time and id); the next page starts below it. The
 * cursor is that position, opaque to clients (base64url of JSON).
 */
export interface Position {
  at: string
  id: string
}

export function encodeCursor (position: Position): string {
  return Buffer.from(JSON.stringify([position.at, position.id])).toString('base64url')
}

// What PostgreSQL takes without an out-of-range error: years 1 to 9999 (timestamptz goes further,
// JavaScript's dates and the API's ISO times do not), ids within bigint.
const MAX_ID = 9_223_372_036_854_775_807n

/** True for an ISO time PostgreSQL and JavaScript both take (year 1 to 9999). */
export function timeInRange (value: string): boolean {
  const ms = Date.parse(value)
  if (Number.isNaN(ms)) return false
  const year = new Date(ms).getUTCFullYear()
  return year >= 1 && year <= 9999
}

/** The position in a cursor, or undefined for one this code did not write. */
export function decodeCursor (cursor: string): Position | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString())
    if (!Array.isArray(value) || value.length !== 2) return undefined
    const [at, id] = value as unknown[]
    if (typeof at !== 'string' || !timeInRange(at) || typeof id !== 'string' || !/^\d{1,19}$/.test(id) || BigInt(id) > MAX_ID) return undefined
    return { at, id }
  } catch {
    return undefined
  }
}
