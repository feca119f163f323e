import { Type, type Static } from '@sinclair/typebox'
import { Role } from './codes.js'

/** A user of the built-in login (`AUTH_USERS_FILE`). */
export const UserRecord = Type.Object(
  {
    Username: Type.String({ minLength: 1, maxLength: 128 }),
    PasswordHash: Type.String({ pattern: '^scrypt\\$', description: 'scrypt$N$r$p$salt$hash, written by the users CLI' }),
    Role: Type.Union([Type.Literal(Role.CLIENT), Type.Literal(Role.ADMIN)]),
    Products: Type.Optional(Type.Array(Type.String(), { description: 'Product keys this user may use; absent = all' })),
    Quota: Type.Optional(Type.Object({
      Tickets: Type.Integer({ minimum: 1, description: 'Tickets this user may submit per window, over every intake' }),
      PerSeconds: Type.Integer({ minimum: 1, maximum: 31_536_000, description: 'The window, in seconds (e.g. 86400)' })
    }, { additionalProperties: false, description: 'Over it, POST answers 429 QUOTA_EXCEEDED with Retry-After' })),
    ChangedAt: Type.Optional(Type.String({
      format: 'date-time',
      description: 'When the users CLI last wrote this user (created, or replaced with a new password): tokens issued before this second are refused'
    }))
  },
  { additionalProperties: false }
)
export type UserRecord = Static<typeof UserRecord>

export const UsersFile = Type.Object({ Users: Type.Array(UserRecord) }, { additionalProperties: false })
export type UsersFile = Static<typeof UsersFile>

/** The longest client id (`sub`) a token may carry. */
export const MAX_CLIENT_ID_LENGTH = 256

/** The claims our tokens carry and the intake requires: `sub` is the client id, `role` and `products` what it may do. */
export const TokenClaims = Type.Object({
  sub: Type.String({ minLength: 1, maxLength: MAX_CLIENT_ID_LENGTH }),
  jti: Type.Optional(Type.String({ minLength: 1, maxLength: 256, description: 'Token id, for revoking one token' })),
  role: Type.Union([Type.Literal(Role.CLIENT), Type.Literal(Role.ADMIN)]),
  products: Type.Optional(Type.Array(Type.String({ maxLength: 200 }), { maxItems: 1000 })),
  iss: Type.String(),
  aud: Type.Union([Type.String(), Type.Array(Type.String())]),
  exp: Type.Number(),
  iat: Type.Optional(Type.Number()),
  nbf: Type.Optional(Type.Number())
})
export type TokenClaims = Static<typeof TokenClaims>
