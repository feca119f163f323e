import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import type { AuditEntry } from '@request-out/record-store'
import { unavailable } from '../http-problem.js'

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * Records an operator's write in the audit trail. Call it before doing the write: when the
     * entry cannot be recorded it throws a 503 and the write must not happen.
     */
    audit: (entry: AuditEntry) => Promise<void>
  }
}

/**
 * Audit entries travel the ticket event streams (the history writers store them in PostgreSQL),
 * so an operator's write is never done without its entry on the way to the audit trail.
 */
async function auditPlugin (app: FastifyInstance): Promise<void> {
  app.decorate('audit', async (entry: AuditEntry): Promise<void> => {
    try {
      await app.recordStore.appendAudit(entry)
    } catch (err) {
      app.log.warn({ err, action: entry.action, actor: entry.actor }, 'audit entry not recorded; the action is refused')
      throw unavailable('The audit trail cannot be written now, so nothing was changed; retry later')
    }
    app.log.info({ audit: { action: entry.action, actor: entry.actor, address: entry.address, target: entry.target } }, 'operator action')
  })
}

export default fp(auditPlugin, { name: 'audit', dependencies: ['records'], fastify: '5.x' })
