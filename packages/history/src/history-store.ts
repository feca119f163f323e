import type pg from 'pg'
import type { AuditRow, TicketDetail, TicketEnvelope, TicketSummary } from '@request-out/contracts'
import type { StreamEvent } from '@request-out/record-store'
import { verifyAuditChain, type AuditChainState } from './audit-chain.js'
import { writeEvents } from './event-writes.js'
import { audit, deadLetters, detail, hasRecord, latest, search, type AuditFilter, type Page, type StoredTicket, type TicketFilter } from './history-reads.js'
import { failedTickets, type FailedCursor, type FailedTicket, type FailedTicketFilter } from './redrive-reads.js'
import { deleteExpired, erase, eraseOlderThan } from './retention.js'
import { ticketEvents, type StoredTicketEvents } from './ticket-event-reads.js'

export type { FailedCursor, FailedTicket, FailedTicketFilter } from './redrive-reads.js'
export type { StoredTicketEvents } from './ticket-event-reads.js'
export { BadCursorError, type AuditFilter, type Page, type StoredTicket, type TicketFilter } from './history-reads.js'

type FieldsOf = (product: string) => ReadonlySet<string>

/**
 * The ticket history in PostgreSQL: what the writer stores from the event streams
 * (event-writes.ts), what the intake reads back (a ticket Redis no longer holds, search, a
 * ticket's timeline, the audit trail: history-reads.ts), and erasure and retention (retention.ts).
 */
export class HistoryStore {
  readonly #pool: pg.Pool

  constructor (pool: pg.Pool) {
    this.#pool = pool
  }

  /**
   * Stores a batch of events in one transaction. Idempotent by event: an event stored before
   * (a batch written again after its writer died) changes nothing. Events of one ticket may come
   * in any order (several writers share the streams): each change is commutative.
   */
  async writeEvents (events: StreamEvent[], fieldsOf: FieldsOf = () => new Set()): Promise<void> {
    await writeEvents(this.#pool, events, fieldsOf)
  }

  /** The audit trail's hash chain, checked from its oldest kept row to its newest. */
  async verifyAudit (): Promise<AuditChainState> {
    return await verifyAuditChain(this.#pool)
  }

  /** The newest acceptance of a ticket, or undefined when history has none. */
  async latest (clientId: string, ticketId: string): Promise<StoredTicket | undefined> {
    return await latest(this.#pool, clientId, ticketId)
  }

  /** A ticket's newest acceptance with its events (not the audit entries), in stream order: an event stream's replay. */
  async ticketEvents (clientId: string, ticketId: string): Promise<StoredTicketEvents | undefined> {
    return await ticketEvents(this.#pool, clientId, ticketId)
  }

  /** Whether any acceptance of the ticket has a stored record. */
  async hasRecord (clientId: string, ticketId: string): Promise<boolean> {
    return await hasRecord(this.#pool, clientId, ticketId)
  }

  /** Operators' search, newest first, one page. Throws BadCursorError for a cursor it did not write. */
  async search (query: TicketFilter): Promise<Page<TicketSummary>> {
    return await search(this.#pool, query)
  }

  /** A ticket's newest acceptance with its timeline; personal fields of the record are erased with `redact`. */
  async detail (clientId: string, ticketId: string, redact: (record: TicketEnvelope, product: string) => TicketEnvelope): Promise<TicketDetail | undefined> {
    return await detail(this.#pool, clientId, ticketId, redact)
  }

  /** Per product, the tickets that ended PRODUCT_FAILED in the last hour and day. */
  async deadLetters (): Promise<Array<{ product: string, lastHour: number, lastDay: number }>> {
    return await deadLetters(this.#pool)
  }

  /** A redrive's selection: one page of the tickets whose outcome is PRODUCT_FAILED, oldest acceptance first, with their kept input. */
  async failedTickets (filter: FailedTicketFilter, after: FailedCursor | undefined, limit: number): Promise<{ tickets: FailedTicket[], next: FailedCursor | undefined }> {
    return await failedTickets(this.#pool, filter, after, limit)
  }

  /** The audit trail, newest first, one page. */
  async audit (query: AuditFilter): Promise<Page<AuditRow>> {
    return await audit(this.#pool, query)
  }

  /** Erases the personal fields of every stored record of the ticket now, and keeps the erasure (it sticks). Resolves how many records. */
  async erase (clientId: string, ticketId: string, fieldsOf: FieldsOf): Promise<number> {
    return await erase(this.#pool, clientId, ticketId, fieldsOf)
  }

  /** The retention sweep's erasure of records finished more than `days` ago. */
  async eraseOlderThan (days: number, fieldsOf: FieldsOf, batch = 500): Promise<number> {
    return await eraseOlderThan(this.#pool, days, fieldsOf, batch)
  }

  /** Retention: tickets, events, erasures and audit rows past their days, in batches. */
  async deleteExpired (ticketDays: number, auditDays: number, batch = 5000): Promise<number> {
    return await deleteExpired(this.#pool, ticketDays, auditDays, batch)
  }
}
