import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import {
  AuditQuery, AuditResponse, ErasureResponse, ErrorEnvelope, TicketDetailResponse, TicketHistoryParams, TicketSearchQuery, TicketSearchResponse, successEnvelope
} from '@request-out/contracts'
import { principalOf, requireAdmin } from '../../plugins/auth.js'

const errors = { 400: ErrorEnvelope, 401: ErrorEnvelope, 403: ErrorEnvelope, 404: ErrorEnvelope, 429: ErrorEnvelope, 503: ErrorEnvelope }

/** Operators' view of the ticket history and the audit trail (admin Bearer tokens). */
const adminHistoryRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { ticketHistory } = app

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
    const page = await ticketHistory.search(request.query)
    return successEnvelope({ Tickets: page.rows, NextCursor: page.nextCursor })
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
  }, async (request) => successEnvelope(await ticketHistory.detail(request.params.ClientId, request.params.TicketId)))

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
    const erased = await ticketHistory.erase(request.params.ClientId, request.params.TicketId, { actor: principalOf(request).clientId, address: request.ip })
    return successEnvelope({ RecordsErased: erased })
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
    const page = await ticketHistory.audit(request.query)
    return successEnvelope({ Entries: page.rows, NextCursor: page.nextCursor })
  })
}

export default adminHistoryRoutes
