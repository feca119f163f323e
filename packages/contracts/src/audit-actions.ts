import { Type, type Static } from '@sinclair/typebox'

/**
 * Every operator action the audit trail records (and the breaker's automatic ones), by the name its rows carry. `app.audit()` takes
 * only these, and the audit search's `Action` is one of them.
 */
const AUDIT_ACTIONS = [
  'availability.set',
  'revocation.add',
  'job.retry',
  'job.remove',
  'job.promote',
  'queue.clean',
  'queue.promote',
  'webhook.set',
  'webhook.delete',
  'webhook.rotate',
  'webhook.resend',
  'webhook.enable',
  'webhook.disable',
  'ticket.cancel',
  'tickets.cancel',
  'personal-data.erase',
  'redrive.start',
  'redrive.stop',
  // Automatic, actor `system`: a product's upstream breaker opened or closed.
  'breaker.open',
  'breaker.close'
] as const

export const AuditAction = Type.Union(AUDIT_ACTIONS.map((a) => Type.Literal(a)), { description: 'An operator action, as the audit trail names it' })
export type AuditAction = Static<typeof AuditAction>
