import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { ErrorEnvelope, LoginRequest, LoginResponse, Message, Status } from '@request-out/contracts'
import { HttpProblem } from '../http-problem.js'

/** Built-in user access (README, "Users of the built-in login"): username and password for a Bearer token. Absent in external-token mode. */
const loginRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { auth } = app
  if (auth.mode !== 'login' || auth.users === undefined) return
  const users = auth.users

  app.post('/v1/auth/login', {
    schema: {
      tags: ['auth'],
      summary: 'Exchange a username and password for a Bearer token',
      body: LoginRequest,
      response: { 200: LoginResponse, 400: ErrorEnvelope, 401: ErrorEnvelope, 413: ErrorEnvelope, 415: ErrorEnvelope, 429: ErrorEnvelope, 503: ErrorEnvelope }
    }
  }, async (request) => {
    const user = await app.loginGuard.authenticate(users, request.body.Username, request.body.Password, request.ip)
    if (user === undefined) throw new HttpProblem('INVALID_CREDENTIALS')
    return {
      Status: Status.SUCCESS,
      Message: Message.LOGGED_IN,
      Data: { AccessToken: auth.signFor(user), TokenType: 'Bearer' as const, ExpiresIn: auth.expiresInSeconds },
      StatusCode: 200
    }
  })
}

export default loginRoutes
