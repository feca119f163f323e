import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { DoneResponse, ErrorEnvelope, Message, RevocationRequest, Status } from '@request-out/contracts'
import { HttpProblem } from '../../http-problem.js'
import { principalOf, requireAdmin, revokeToken } from '../../plugins/auth.js'

const errors = { 400: ErrorEnvelope, 401: ErrorEnvelope, 403: ErrorEnvelope, 413: ErrorEnvelope, 415: ErrorEnvelope, 503: ErrorEnvelope }
const done = (message: string): DoneResponse => ({ Status: Status.SUCCESS, Message: message, Data: null, StatusCode: 200 })

/** Ending tokens before they expire: the caller's own (logout), or any user's or token's (admin). */
const tokenRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.post('/auth/logout', {
    schema: {
      tags: ['auth'],
      summary: "Revoke the caller's token on every intake",
      security: [{ bearerAuth: [] }],
      response: { 200: DoneResponse, ...errors }
    }
  }, async (request) => {
    if (request.token === undefined) throw new HttpProblem('UNAUTHORIZED')
    await revokeToken(app, request.token)
    request.log.info({ clientId: request.token.principal.clientId }, 'token revoked by its holder (logout)')
    return done(Message.LOGGED_OUT)
  })

  app.post('/admin/revocations', {
    schema: {
      tags: ['admin'],
      summary: 'Revoke every token of a user (issued until now), or one token by its id (admin)',
      description: 'Works in both auth modes; in login mode, removing the user from AUTH_USERS_FILE also ends its access.',
      security: [{ bearerAuth: [] }],
      body: RevocationRequest,
      response: { 200: DoneResponse, ...errors }
    },
    preHandler: requireAdmin
  }, async (request) => {
    const body = request.body
    await app.operatorActions.revoke({ actor: principalOf(request).clientId, address: request.ip }, body)
    request.log.info({ admin: request.principal?.clientId, ...body }, 'tokens revoked by an admin')
    return done(Message.REVOKED)
  })
}

export default tokenRoutes
