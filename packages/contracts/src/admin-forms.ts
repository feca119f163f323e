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

/**
 * `GET /admin/tickets` (the search form): what a browser sends, empty fields included; the page
 * turns it into a TicketSearchQuery (empty fields dropped, `datetime-local` times read as UTC).
 */
export const AdminTicketSearchForm = Type.Object({
  TicketId: Type.Optional(Type.String({ maxLength: 200 })),
  ClientId: Type.Optional(Type.String({ maxLength: 200 })),
  Product: Type.Optional(Type.String({ maxLength: 200 })),
  Code: Type.Optional(Type.String({ maxLength: 64 })),
  From: Type.Optional(Type.String({ maxLength: 64 })),
  To: Type.Optional(Type.String({ maxLength: 64 })),
  Cursor: Type.Optional(Type.String({ maxLength: 200 }))
}, { additionalProperties: false })
export type AdminTicketSearchForm = Static<typeof AdminTicketSearchForm>

/** `GET /admin/audit` (the audit filter form). */
export const AdminAuditSearchForm = Type.Object({
  Actor: Type.Optional(Type.String({ maxLength: 200 })),
  Action: Type.Optional(Type.String({ maxLength: 64 })),
  From: Type.Optional(Type.String({ maxLength: 64 })),
  To: Type.Optional(Type.String({ maxLength: 64 })),
  Cursor: Type.Optional(Type.String({ maxLength: 200 }))
}, { additionalProperties: false })
export type AdminAuditSearchForm = Static<typeof AdminAuditSearchForm>

/** `POST /admin/tickets/{ClientId}/{TicketId}/retry` and `…/erase` (forms of the ticket page). */
export const AdminTicketActionForm = Type.Object({
  csrf: Type.Optional(Type.String({ maxLength: 512 }))
}, { additionalProperties: false })

/** `POST /admin/cancellations` (the bulk cancel form): counted first (`DryRun=true`), then confirmed. */
export const AdminBulkCancelForm = Type.Object({
  csrf: Type.Optional(Type.String({ maxLength: 512 })),
  Product: Type.Optional(Type.String({ maxLength: 200 })),
  ClientId: Type.Optional(Type.String({ maxLength: 200 })),
  State: Type.Optional(Type.String({ maxLength: 32 })),
  DryRun: Type.Union([Type.Literal('true'), Type.Literal('false')])
}, { additionalProperties: false })
export type AdminBulkCancelForm = Static<typeof AdminBulkCancelForm>

/** The tickets page's redrive form: counted first (DryRun "true"), then confirmed. */
export const AdminRedriveForm = Type.Object({
  csrf: Type.Optional(Type.String({ maxLength: 512 })),
  Product: Type.Optional(Type.String({ maxLength: 200 })),
  ClientId: Type.Optional(Type.String({ maxLength: 200 })),
  From: Type.Optional(Type.String({ maxLength: 64 })),
  To: Type.Optional(Type.String({ maxLength: 64 })),
  DryRun: Type.Union([Type.Literal('true'), Type.Literal('false')])
}, { additionalProperties: false })
export type AdminRedriveForm = Static<typeof AdminRedriveForm>

/** `/admin/webhooks/{ClientId}/…`: the client whose endpoint an operator switches. */
export const AdminClientParams = Type.Object({ ClientId: Type.String({ minLength: 1, maxLength: 256 }) }, { additionalProperties: false })
