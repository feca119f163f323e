/** Longest `Prefer: wait=N` honoured (README, "The API in brief"). */
const MAX_WAIT_SECONDS = 30

/** Reads `Prefer: wait=N` (RFC 7240); returns seconds clamped to 0..30, or 0 when absent. */
export function preferredWaitSeconds (header: string | string[] | undefined): number {
  const value = Array.isArray(header) ? header.join(',') : header
  if (value === undefined) return 0
  const m = /(?:^|[,;\s])wait\s*=\s*"?(\d{1,6})"?/i.exec(value)
  if (m === null) return 0
  return Math.min(Number(m[1]), MAX_WAIT_SECONDS)
}
