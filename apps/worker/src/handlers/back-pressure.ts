import type { IncomingHttpHeaders } from 'node:http'

const header = (headers: IncomingHttpHeaders, name: string): string | undefined => {
  const v = headers[name]
  return Array.isArray(v) ? v[0] : v
}

/** `Retry-After` as milliseconds: delta seconds or an HTTP date; undefined when absent or unreadable. */
function retryAfterMs (value: string | undefined, now: number): number | undefined {
  if (value === undefined || value.trim() === '') return undefined
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000
  const at = Date.parse(value)
  return Number.isNaN(at) ? undefined : Math.max(0, at - now)
}

/**
 * The IETF RateLimit fields' wait, when the quota is used up: `RateLimit: "…";r=0;t=30` (the
 * current draft) or `RateLimit-Remaining: 0` with `RateLimit-Reset: 30` (the earlier one).
 */
function rateLimitMs (headers: IncomingHttpHeaders): number | undefined {
  const current = header(headers, 'ratelimit')
  if (current !== undefined) {
    const r = /(?:^|;)\s*r=(\d+)/.exec(current)?.[1]
    const reset = /(?:^|;)\s*t=(\d+)/.exec(current)?.[1]
    if (r === '0' && reset !== undefined) return Number(reset) * 1000
  }
  const remaining = header(headers, 'ratelimit-remaining')
  const reset = header(headers, 'ratelimit-reset')
  if (remaining?.trim() === '0' && reset !== undefined && /^\d+$/.test(reset.trim())) return Number(reset.trim()) * 1000
  return undefined
}

/**
 * How long an upstream that answered 429 or 503 asks to be left alone, or undefined when it gives
 * no hint (a 429 without one keeps the ticket's own backoff; a 503 without one is a failure).
 */
export function backPressureMs (status: number, headers: IncomingHttpHeaders, now = Date.now()): number | undefined {
  if (status !== 429 && status !== 503) return undefined
  return retryAfterMs(header(headers, 'retry-after'), now) ?? rateLimitMs(headers)
}
