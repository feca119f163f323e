import type pg from 'pg'
import type { KeptInput } from '@request-out/record-store'
import { ERASED } from './personal-data.js'

/** A ticket that ended PRODUCT_FAILED, as a redrive selects it from history. */
export interface FailedTicket {
  clientId: string
  ticketId: string
  product: string
  /** Epoch ms of its acceptance. */
  acceptedAt: number
  /** Its Data ({} when it had none); undefined when the history has no input for it. */
  input: KeptInput | undefined
  /** Its input's personal fields were erased: it cannot be sent again. */
  erased: boolean
  /** Its TicketId was accepted again since (a new ticket): this acceptance is not sent again. */
  newer: boolean
}

export interface FailedTicketFilter {
  products: readonly string[]
  clientId?: string | undefined
  /** Epoch ms: accepted at or after. */
  since: number
  /** Epoch ms: accepted before (Infinity: no bound). */
  until: number
}

/** Where a page of failedTickets ended: the next page starts after it. */
export interface FailedCursor { acceptedAt: number, id: string }

interface Row {
  id: string
  client_id: string
  ticket_id: string
  product: string
  accepted_at: Date
  input: KeptInput | null
  erased: boolean
  newer: boolean
}

/** One page of the tickets whose outcome is PRODUCT_FAILED, oldest acceptance first. */
export async function failedTickets (pool: pg.Pool, filter: FailedTicketFilter, after: FailedCursor | undefined, limit: number): Promise<{ tickets: FailedTicket[], next: FailedCursor | undefined }> {
  const { rows } = await pool.query<Row>(`
    SELECT t.id, t.client_id, t.ticket_id, t.product, t.accepted_at, t.input,
      coalesce(jsonb_path_exists(t.input, 'strict $.** ? (@ == $erased)', jsonb_build_object('erased', $8::text)), false) AS erased,
      EXISTS (SELECT 1 FROM tickets n WHERE n.client_id = t.client_id AND n.ticket_id = t.ticket_id AND n.accepted_at > t.accepted_at) AS newer
    FROM tickets t
    WHERE t.code = 'PRODUCT_FAILED' AND t.product = ANY($1) AND t.accepted_at >= $2 AND t.accepted_at < $3
      AND ($4::text IS NULL OR t.client_id = $4)
      AND (t.accepted_at, t.id) > ($5, $6)
    ORDER BY t.accepted_at, t.id
    LIMIT $7`, [
    filter.products, new Date(filter.since), Number.isFinite(filter.until) ? new Date(filter.until) : new Date(8.64e15), filter.clientId ?? null,
    new Date(after?.acceptedAt ?? 0), after?.id ?? '0', limit, ERASED
  ])
  const last = rows.at(-1)
  return {
    tickets: rows.map((r) => ({
      clientId: r.client_id,
      ticketId: r.ticket_id,
      product: r.product,
      acceptedAt: r.accepted_at.getTime(),
      input: r.input ?? undefined,
      erased: r.erased,
      newer: r.newer
    })),
    next: rows.length < limit || last === undefined ? undefined : { acceptedAt: last.accepted_at.getTime(), id: last.id }
  }
}
