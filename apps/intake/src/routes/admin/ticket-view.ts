// What the operator's ticket page shows of history's answer, in the API's terms: the record's
// fields in the envelope's order (PostgreSQL's jsonb keeps its own), times as ISO, details as
// fields rather than raw JSON.
import { TicketEnvelope, type TicketDetail } from '@request-out/contracts'

const ENVELOPE_ORDER = Object.keys(TicketEnvelope.properties)

/** The record as GET answers it: envelope fields in the contract's order. */
export function recordInApiOrder (record: Record<string, unknown>): Record<string, unknown> {
  const ordered: Record<string, unknown> = {}
  for (const key of ENVELOPE_ORDER) if (key in record) ordered[key] = record[key]
  for (const [key, value] of Object.entries(record)) if (!(key in ordered)) ordered[key] = value
  return ordered
}

// Event fields that hold a time as epoch milliseconds.
const TIME_FIELDS = new Set(['at', 'startedAt', 'acceptedAt', 'by'])

// Not shown: the ticket's fingerprint (a hash of its fields, personal ones included).
const HIDDEN_FIELDS = new Set(['fp'])

/** A timeline entry's details as `name: value` pairs, times as ISO (UTC). */
export function detailFields (details: unknown): Array<{ name: string, value: string }> {
  if (details === null || typeof details !== 'object') return []
  return Object.entries(details as Record<string, unknown>).filter(([name, v]) => v !== null && v !== '' && !HIDDEN_FIELDS.has(name)).map(([name, v]) => {
    const ms = typeof v === 'string' && /^\d{12,14}$/.test(v) ? Number(v) : typeof v === 'number' ? v : Number.NaN
    if (TIME_FIELDS.has(name) && Number.isFinite(ms) && ms > 1e12) return { name, value: new Date(ms).toISOString() }
    return { name, value: typeof v === 'string' ? v : JSON.stringify(v) }
  })
}

/** Why a ticket did not succeed, from its record, for the top of the page. */
export function failureReason (ticket: TicketDetail): string | undefined {
  if (ticket.Code === 'SUCCESS' || ticket.Code === 'IN_PROCESS' || ticket.Record === null) return undefined
  return ticket.Record.Message
}
