import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import type { AuditQuery, AuditRow, TicketDetail, TicketEnvelope, TicketSearchQuery } from '@request-out/contracts'
import { REDACTED, erasePersonalFields, type AuditChainState, type HistoryStore, type Page } from '@request-out/history'
import { personalFields } from '@request-out/product-catalog'
import { HttpProblem, unavailable } from '../http-problem.js'
import { ticketKey } from '@request-out/redis-keys'

declare module 'fastify' {
  interface FastifyInstance {
    ticketHistory: ReturnType<typeof createTicketHistory>
  }
}

/** Who does an operator's write, for the audit trail. */
export interface Operator {
  actor: string
  address: string
}

/** The query with its page size as a number (query strings are not coerced). */
function withLimit<Q extends { Limit?: string }> (query: Q): Omit<Q, 'Limit'> & { Limit?: number } {
  const { Limit, ...rest } = query
  return Limit === undefined ? rest : { ...rest, Limit: Number(Limit) }
}

/**
 * What operators ask of the ticket history, for the admin API and the admin pages alike: search,
 * a ticket's timeline, the audit trail, erasure. Every read is bounded by HISTORY_QUERY_TIMEOUT_MS;
 * history off or PostgreSQL away is a 503, never an empty answer.
 */
function createTicketHistory (app: FastifyInstance) {
  const { catalog } = app.config
  const fieldsOf = (product: string): ReadonlySet<string> => personalFields(catalog.get(product))

  function store (): HistoryStore {
    const history = app.history.store
    if (history === undefined) throw unavailable('Ticket history is off on this intake (DATABASE_URL is not set)')
    return history
  }

  const read = app.history.read

  /**
   * The product job keeps the ticket's input (a failed one for JOBS_KEEP_FAILED_SECONDS): its personal
   * fields go too. An operator's retry of an erased ticket then sends the erased input (the product
   * refuses it); a new POST under another TicketId is the way to ask again.
   */
  async function eraseJob (product: string, jobId: string, fields: ReadonlySet<string>): Promise<void> {
    const queue = app.ticketQueues.queueFor(product)
    const job = await queue?.getJob(jobId)
    if (queue === undefined || job === undefined) return
    try {
      await job.updateData(erasePersonalFields(job.data, fields))
    } catch (err) {
      // Removed in between (its retention ended): nothing left to erase.
      if (await queue.getJob(jobId) !== undefined) throw err
    }
  }

  return {
    async search (query: TicketSearchQuery) {
      return await read(async (history) => history.search(withLimit(query)))
    },

    /** The ticket's newest acceptance with its timeline, personal fields redacted; 404 when history has none. */
    async detail (clientId: string, ticketId: string): Promise<TicketDetail> {
      const detail = await read(async (history) =>
        history.detail(clientId, ticketId, (record, product) => erasePersonalFields(record, fieldsOf(product), REDACTED)))
      if (detail === undefined) throw new HttpProblem('NOT_FOUND', `No ticket ${ticketId} of ${clientId} in history`)
      return detail
    },

    async audit (query: AuditQuery): Promise<Page<AuditRow>> {
      return await read(async (history) => history.audit(withLimit(query)))
    },

    /** Per product, the tickets that ended PRODUCT_FAILED in the last hour and day; undefined without history (or when it does not answer). */
    async deadLetters (): Promise<Map<string, { lastHour: number, lastDay: number }> | undefined> {
      if (app.history.store === undefined) return undefined
      try {
        return new Map((await read(async (history) => history.deadLetters())).map((d) => [d.product, { lastHour: d.lastHour, lastDay: d.lastDay }]))
      } catch {
        return undefined
      }
    },

    /** Whether the audit trail's hash chain holds (undefined when it could not be checked in time: the command can). */
    async auditChain (): Promise<AuditChainState | undefined> {
      try {
        return await store().verifyAudit()
      } catch (err) {
        app.log.warn({ err }, 'audit chain not checked')
        return undefined
      }
    },

    /**
     * Erases the personal fields of the ticket wherever they are stored, after recording it in the
     * audit trail: its records in PostgreSQL (every acceptance, and kept so a record stored later is
     * stored erased), and in Redis the record GET answers from, the fingerprint (replaced: a re-POST
     * then answers the ticket's state), the product job's input, the input a running redrive holds,
     * and the webhook events its deliveries and re-sends send. The event streams hold none (their
     * `record` events carry no record). Resolves the number of records erased in history; 404 (not audited) when neither holds a record.
     */
    async erase (clientId: string, ticketId: string, operator: Operator): Promise<number> {
      store() // erasure needs the history on: it is where records outlive Redis
      const ticket = await app.recordStore.read(clientId, ticketId)
      // Nothing to erase is refused before the audit trail records anything: a refusal is not audited as done.
      if ((ticket.exists ? ticket.record : undefined) === undefined && !await read(async (history) => history.hasRecord(clientId, ticketId))) {
        throw new HttpProblem('NOT_FOUND', `No stored record of ticket ${ticketId} of ${clientId}`)
      }
      await app.audit({ ...operator, action: 'personal-data.erase', target: `${clientId}/${ticketId}`, clientId, ticketId })
      const product = ticket.exists ? ticket.product : (await read(async (history) => history.latest(clientId, ticketId)))?.product ?? ''
      const fields = fieldsOf(product)
      const inRedis = await app.recordStore.eraseRecord(clientId, ticketId, (record: TicketEnvelope) => erasePersonalFields(record, fields))
      await eraseJob(product, ticketKey(clientId, ticketId), fields)
      await app.redrives.forgetInput(clientId, ticketId)
      await app.webhooks.state.rewriteEvents(ticketKey(clientId, ticketId), (event) => {
        const body = JSON.parse(event.body) as Record<string, unknown>
        return { ...event, body: JSON.stringify({ ...body, data: erasePersonalFields(body.data, fields) }) }
      })
      const inHistory = await read(async (history) => history.erase(clientId, ticketId, fieldsOf))
      app.log.info({ clientId, ticketId, inHistory, inRedis, actor: operator.actor }, 'personal data erased')
      return inHistory
    }
  }
}

async function ticketHistoryPlugin (app: FastifyInstance): Promise<void> {
  app.decorate('ticketHistory', createTicketHistory(app))
}

export default fp(ticketHistoryPlugin, { name: 'ticket-history', dependencies: ['config', 'history', 'records', 'audit', 'webhooks', 'ticket-queues', 'redrives'], fastify: '5.x' })
