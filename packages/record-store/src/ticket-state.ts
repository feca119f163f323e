import { Value } from '@sinclair/typebox/value'
import { TicketEnvelope, type AuditAction } from '@request-out/contracts'
import type { TicketFingerprint } from './ticket-fingerprint.js'

export interface ExistingTicket { outcome: 'existing', sameFields: boolean, record: TicketEnvelope | undefined, cancelRequested: boolean }

/**
 * What a claim found: a new ticket, or one already there. `acceptedAt` is the acceptance time the
 * ticket's hash holds (the new one's, or the first claim's): it names this acceptance of the TicketId.
 */
export type ClaimResult = ({ outcome: 'claimed' } | ExistingTicket) & { acceptedAt: number }

export type TicketState =
  | { exists: false }
  | { exists: true, product: string, record: TicketEnvelope | undefined }

export type CancelRequest =
  | { outcome: 'unknown' }
  | { outcome: 'requested' | 'already-requested', product: string }
  | { outcome: 'final', product: string, record: TicketEnvelope }

/** What a worker needs to know before it runs a delivery that may not be the first. */
export interface DeliveryState {
  /** The code of a record no later outcome may replace, if there is one. */
  finalCode: string | undefined
  cancelRequested: boolean
}

/** An operator's action, as the audit trail keeps it. */
export interface AuditEntry {
  /** Who: the operator's username. */
  actor: string
  /** From which address. */
  address: string
  /** What (contracts' AUDIT_ACTIONS). */
  action: AuditAction
  /** What it was done to, e.g. a product key, a job id or a username. */
  target: string
  clientId?: string
  ticketId?: string
  before?: unknown
  after?: unknown
}

/** When the try that produced a record started, and how many tries it took (for the event). */
export interface RecordTiming {
  startedAt: number
  tries: number
  /** The span that stored it (W3C traceparent), when traced: the record's webhooks join the ticket's trace. */
  traceparent?: string | undefined
  /** Names the try whose outcome this is (the job's processedOn): the same try's outcome written twice is one write. */
  tryId?: string | undefined
  /** The worker process that ran the try (host:pid). */
  worker?: string | undefined
}

/** A ticket's fingerprint, or a bare value compared exactly. */
export type Fingerprint = string | TicketFingerprint
export const fingerprintValue = (fp: Fingerprint): string => typeof fp === 'string' ? fp : fp.value
const sameAs = (fp: Fingerprint, stored: string): boolean => typeof fp === 'string' ? fp === stored : fp.matches(stored)

/** What a claim (or a look without claiming) tells of a ticket already there. */
export const existingTicket = (fp: Fingerprint, stored: string, rec: string | null, cancelRequested: boolean): ExistingTicket =>
  ({ outcome: 'existing', sameFields: sameAs(fp, stored), record: parseRecord(rec), cancelRequested })

/** A stored record, checked: a corrupt one fails loudly (500, logged) rather than reaching a client. */
export function parseRecord (raw: string | null | undefined): TicketEnvelope | undefined {
  if (raw === null || raw === undefined || raw === '') return undefined
  let record: unknown
  try {
    record = JSON.parse(raw)
  } catch {
    record = undefined
  }
  if (!Value.Check(TicketEnvelope, record)) throw new Error('a stored ticket record is not a valid envelope')
  return record
}
