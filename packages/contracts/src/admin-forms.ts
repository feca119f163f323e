import { Type, type Static } from '@sinclair/typebox'

/** `POST /admin/login` (form): a username and password, or an access token in external-token mode. */
export const AdminLoginForm = Type.Object({
  Username: Type.Optional(Type.String({ maxLength: 128 })),
  Password: Type.Optional(Type.String({ maxLength: 1024 })),
  AccessToken: Type.Optional(Type.String({ maxLength: 8192 }))
}, { additionalProperties: false })
export type AdminLoginForm = Static<typeof AdminLoginForm>

/** `POST /admin/logout` (form). */
export const AdminLogoutForm = Type.Object({
  csrf: Type.Optional(Type.String({ maxLength: 512 }))
}, { additionalProperties: false })

/** `POST /admin/products/availability` (form): the products page's switch. */
export const AdminAvailabilityForm = Type.Object({
  // Optional here: a missing form token is refused by the CSRF check (403), not as a bad field.
  csrf: Type.Optional(Type.String({ maxLength: 512 })),
  Key: Type.String({ minLength: 1, maxLength: 200 }),
  Available: Type.Union([Type.Literal('true'), Type.Literal('false')]),
  Reason: Type.Optional(Type.String({ maxLength: 256 }))
}, { additionalProperties: false })
export type AdminAvailabilityForm = Static<typeof AdminAvailabilityForm>
