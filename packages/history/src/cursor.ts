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

/** The position in a cursor, or undefined for one this code did not write. */
export function decodeCursor (cursor: string): Position | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString())
    if (!Array.isArray(value) || value.length !== 2) return undefined
    const [at, id] = value as unknown[]
    if (typeof at !== 'string' || Number.isNaN(Date.parse(at)) || typeof id !== 'string' || !/^\d{1,19}$/.test(id)) return undefined
    return { at, id }
  } catch {
    return undefined
  }
}
