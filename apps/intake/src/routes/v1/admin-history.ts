import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import {
  ApiEnvelope, AuditQuery, AuditResponse, ErrorEnvelope, SeedMessage, Status, TicketDetailResponse, TicketHistoryParams,
  TicketSearchQuery, TicketSearchResponse, type TicketEnvelope
} from '@request-out/contracts'
import { BadCursorError, REDACTED, erasePersonalFields, type HistoryStore } from '@request-out/history'
import { personalFields } from '@request-out/product-catalog'
import { HttpProblem, unavailable } from '../../http-problem.js'
import { principalOf, requireAdmin } from '../../plugins/auth.js'

const errors = { 400: ErrorEnvelope, 401: ErrorEnvelope, 403: ErrorEnvelope, 404: ErrorEnvelope, 429: ErrorEnvelope, 503: ErrorEnvelope }

const ErasureResponse = ApiEnvelope(Type.Object({ RecordsErased: Type.Integer({ description: 'Stored records (one per acceptance) whose personal fields were erased' }) }), 'ErasureResponse')

/** The query with its page size as a number (query strings are not coerced). */
const withLimit = <Q extends { Limit?: string }>(query: Q): Omit<Q, 'Limit'> & { Limit?: number } => {
  const { Limit, ...rest } = query
  return Limit === undefined ? rest : { ...rest, Limit: Number(Limit) }
}

const ok = <T>(data: T) => ({ Status: Status.SUCCESS, Message: SeedMessage.SUCCESS, Data: data, StatusCode: 200 })

/**
 * Operators' view of the ticket history and the audit trail (admin Bearer tokens). Every read has
 * its wait bounded (HISTORY_QUERY_TIMEOUT_MS): PostgreSQL away is a 503, never an empty page.
 */
const adminHistoryRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { catalog } = app.config
  const fieldsOf = (product: string): ReadonlySet<string> => personalFields(catalog.get(product))

  function historyStore (): HistoryStore {
    const store = app.history.store
    if (store === undefined) throw unavailable('Ticket history is off on this intake (DATABASE_URL is not set)')
    return store
  }

  /** Runs a history read; no history configured, or PostgreSQL not answering, is a 503. */
  async function fromHistory<T> (read: (store: HistoryStore) => Promise<T>): Promise<T> {
    const store = historyStore()
    try {
      return await read(store)
    } catch (err) {
      if (err instanceof BadCursorError) throw new HttpProblem('VALIDATION_ERROR', err.message, {}, [{ Field: '/Cursor', Message: err.message }])
      if (err instanceof HttpProblem) throw err
      app.log.warn({ err }, 'ticket history not reachable')
      throw unavailable('Ticket history is not reachable; retry later')
    }
  }

  app.get('/admin/tickets', {
    schema: {
      tags: ['admin'],
      summary: 'Search the ticket history (admin): newest first, keyset pages',
      security: [{ bearerAuth: [] }],
      querystring: TicketSearchQuery,
      response: { 200: TicketSearchResponse, ...errors }
    },
    preHandler: requireAdmin
  }, async (request) => {
    const page = await fromHistory(async (store) => store.search(withLimit(request.query)))
    return ok({ Tickets: page.rows, NextCursor: page.nextCursor })
  })

  app.get('/admin/tickets/:ClientId/:TicketId', {
    schema: {
      tags: ['admin'],
      summary: 'One ticket\'s history (admin): its newest acceptance, timeline and record, personal fields redacted',
      security: [{ bearerAuth: [] }],
      params: TicketHistoryParams,
      response: { 200: TicketDetailResponse, ...errors }
    },
    preHandler: requireAdmin
  }, async (request) => {
    const { ClientId, TicketId } = request.params
    const detail = await fromHistory(async (store) =>
      store.detail(ClientId, TicketId, (record, product) => erasePersonalFields(record, fieldsOf(product), REDACTED)))
    if (detail === undefined) throw new HttpProblem('NOT_FOUND', `No ticket ${TicketId} of ${ClientId} in history`)
    return ok(detail)
  })

  app.delete('/admin/tickets/:ClientId/:TicketId/personal-data', {
    schema: {
      tags: ['admin'],
      summary: 'Erase the personal fields of a ticket\'s stored records now (admin; audited)',
      description: 'In PostgreSQL (every acceptance of the TicketId) and in the Redis copy GET answers from. The record stays, with "[erased]" in place of each personal value.',
      security: [{ bearerAuth: [] }],
      params: TicketHistoryParams,
      response: { 200: ErasureResponse, ...errors }
    },
    preHandler: requireAdmin
  }, async (request) => {
    const { ClientId, TicketId } = request.params
    historyStore() // erasure needs the history on: it is where records outlive Redis
    await app.audit({ actor: principalOf(request).clientId, address: request.ip, action: 'personal-data.erase', target: `${ClientId}/${TicketId}`, clientId: ClientId, ticketId: TicketId })
    const ticket = await app.recordStore.read(ClientId, TicketId)
    const inRedis = await app.recordStore.eraseRecord(ClientId, TicketId, (record: TicketEnvelope) =>
      erasePersonalFields(record, fieldsOf(ticket.exists ? ticket.product : '')))
    const inHistory = await fromHistory(async (store) => store.erase(ClientId, TicketId, fieldsOf))
    if (!inRedis && inHistory === 0) throw new HttpProblem('NOT_FOUND', `No stored record of ticket ${TicketId} of ${ClientId}`)
    request.log.info({ clientId: ClientId, ticketId: TicketId, inHistory, inRedis }, 'personal data erased')
    return ok({ RecordsErased: inHistory })
  })

  app.get('/admin/audit', {
    schema: {
      tags: ['admin'],
      summary: 'The audit trail of operators\' writes (admin): newest first, keyset pages',
      security: [{ bearerAuth: [] }],
      querystring: AuditQuery,
      response: { 200: AuditResponse, ...errors }
    },
    preHandler: requireAdmin
  }, async (request) => {
    const page = await fromHistory(async (store) => store.audit(withLimit(request.query)))
    return ok({ Entries: page.rows, NextCursor: page.nextCursor })
  })
}

export default adminHistoryRoutes
