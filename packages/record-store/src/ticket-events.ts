/** The kinds of entries in a ticket group's event stream. */
export const TicketEventType = {
  /** The intake claimed a new ticket. Fields: product, requestId, traceId (when traced). No fingerprint: it is made of the ticket's fields. */
  ACCEPTED: 'accepted',
  /**
   * A try failed (the last one too), or was lost with its worker (seen when another took the job
   * over). Fields: attempt, outcome (failed | lost), error (scrubbed), startedAt, durationMs, worker,
   * acceptedAt, product; a lost try has no startedAt or durationMs (its worker died with them).
   */
  TRY_FAILED: 'try-failed',
  /** The ticket got its record. Fields: code, startedAt, tries, worker, acceptedAt, product, traceparent (when traced). Not the record: it holds personal values; consumers read it from the ticket's hash. */
  RECORD: 'record',
  /** A redrive sent the failed ticket back to its queue (a new round of tries). Fields: by (redrive:<id>), acceptedAt, product. */
  REDRIVEN: 'redriven',
  /** The client (or an operator) asked to cancel the ticket. Fields: by, acceptedAt, product. */
  CANCEL_REQUESTED: 'cancel-requested',
  /** An operator's action. Fields: actor, address, action, target, before, after (JSON). */
  AUDIT: 'audit'
} as const
export type TicketEventType = (typeof TicketEventType)[keyof typeof TicketEventType]

/** One entry of an event stream, as a consumer reads it. */
export interface TicketEvent {
  /** The stream entry id (`<ms>-<seq>`): unique and ordered within the group. */
  id: string
  type: TicketEventType
  clientId: string
  ticketId: string
  /** Epoch ms when the change was made. */
  at: number
  fields: Record<string, string>
}

/** A field of Redis' flat name-value answers (a stream entry, XINFO) without reading the rest. */
export function fieldOf (flat: readonly unknown[], name: string): unknown {
  for (let i = 0; i + 1 < flat.length; i += 2) if (flat[i] === name) return flat[i + 1]
  return undefined
}

/** Reads a stream entry (XRANGE / XREADGROUP shape) into a TicketEvent; undefined for a foreign entry. */
export function parseTicketEvent (id: string, flat: string[]): TicketEvent | undefined {
  const fields: Record<string, string> = {}
  for (let i = 0; i + 1 < flat.length; i += 2) fields[flat[i] as string] = flat[i + 1] as string
  const { type, clientId, ticketId, at, ...rest } = fields
  if (type === undefined || clientId === undefined || ticketId === undefined || at === undefined) return undefined
  if (!(Object.values(TicketEventType) as string[]).includes(type)) return undefined
  return { id, type: type as TicketEventType, clientId, ticketId, at: Number(at), fields: rest }
}
