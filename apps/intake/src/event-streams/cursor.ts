import { TICKET_GROUPS } from '@request-out/redis-keys'

/**
 * The `id:` of `GET /v1/events`: where the stream stands in every ticket group's event stream, so
 * it resumes after `Last-Event-ID` on any intake. Opaque to clients; `c1.<base ms>.<per group>`,
 * each group's position as base-36 offsets from the base (`<ms>` or `<ms>-<seq>`, empty for none):
 * about 350 characters for 64 groups, well under 1 KB.
 */
export function encodeCursor (positions: readonly string[]): string {
  const parsed = positions.map((p) => p.split('-').map(Number) as [number, number])
  const base = Math.min(...parsed.filter(([ms]) => ms > 0).map(([ms]) => ms), Number.MAX_SAFE_INTEGER)
  const parts = parsed.map(([ms, seq]) => {
    if (ms === 0) return ''
    return seq > 0 ? `${(ms - base).toString(36)}-${seq.toString(36)}` : (ms - base).toString(36)
  })
  return `c1.${base === Number.MAX_SAFE_INTEGER ? 0 : base.toString(36)}.${parts.join(',')}`
}

const PART = /^(?:([0-9a-z]{1,11})(?:-([0-9a-z]{1,11}))?)?$/

/** The positions a cursor names, or undefined for anything this intake did not write. */
export function decodeCursor (cursor: string): string[] | undefined {
  const m = /^c1\.([0-9a-z]{1,11})\.(.*)$/.exec(cursor)
  if (m === null || m[1] === undefined || m[2] === undefined) return undefined
  const base = parseInt(m[1], 36)
  const parts = m[2].split(',')
  if (parts.length !== TICKET_GROUPS) return undefined
  const positions: string[] = []
  for (const part of parts) {
    const p = PART.exec(part)
    if (p === null) return undefined
    if (p[1] === undefined) {
      positions.push('0-0')
      continue
    }
    positions.push(`${base + parseInt(p[1], 36)}-${p[2] === undefined ? 0 : parseInt(p[2], 36)}`)
  }
  return positions
}
