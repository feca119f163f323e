import fp from 'fastify-plugin'
import type { Job } from 'bullmq'
import type { FastifyInstance } from 'fastify'
import type { RedriveFilter, RedriveSample, RedriveView, RevocationRequest, TicketJob, WebhookEventType } from '@request-out/contracts'
import { retryPolicy } from '@request-out/product-catalog'
import { ticketKey } from '@request-out/redis-keys'
import type { BreakerTransition } from '@request-out/upstream-breaker'
import { HttpProblem } from '../http-problem.js'
import type { Operator } from './ticket-history.js'

declare module 'fastify' {
  interface FastifyInstance {
    operatorActions: ReturnType<typeof createOperatorActions>
  }
}

/**
 * Operators' writes, one place for each, for the API, the pages and the dashboard guard alike:
 * each decides whether the action may be done, records it in the audit trail (app.audit, whose
 * actions are contracts' AUDIT_ACTIONS) and then does it. A refused action is not audited.
 * Cancellation and erasure audit inside the services that perform them (ticketIntake.cancel,
 * ticketHistory.erase), once they know the action happened.
 */
function createOperatorActions (app: FastifyInstance) {
  const { recordStore, ticketQueues } = app

  /**
   * Why this ticket's job may not be retried, or undefined when it may: only a job that failed,
   * of a ticket whose record is not final (it failed for lack of an answer). A final record would
   * not change: a rejected ticket stays rejected.
   */
  async function retryRefusal (job: Job<TicketJob> | undefined): Promise<string | undefined> {
    if (job === undefined) return 'This ticket has no job to retry'
    const code = await recordStore.finalCode(job.data.ClientId, job.data.TicketId)
    if (code !== undefined) {
      return `This ticket's record is final (${code}): a retry would change nothing. Only tickets that failed for lack of an answer (${retryPolicy.exhaustedCode}) are retried`
    }
    const state = await job.getState()
    if (state !== 'failed') return `This ticket's job is ${state}: only a job that failed can be retried`
    return undefined
  }

  return {
    retryRefusal,

    /**
     * Retries a failed ticket: a new round with the product's full Attempts (a retry that got one
     * try, as BullMQ's default gives, would fail again at the first upstream hiccup).
     */
    async retry (operator: Operator, clientId: string, ticketId: string, product: string): Promise<void> {
      const queue = ticketQueues.queueFor(product)
      const job = await queue?.getJob(ticketKey(clientId, ticketId))
      const refused = await retryRefusal(job)
      if (refused !== undefined || job === undefined) throw new HttpProblem('TICKET_FINAL', refused)
      await app.audit({ ...operator, action: 'job.retry', target: `${queue?.name ?? ''}/${job.id ?? ''}`, clientId, ticketId, before: { state: 'failed' } })
      await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true })
    },

    /**
     * Queues the ticket's last webhook event again. Audited when an operator does it for a client
     * (a client's own re-send is its business); its id, or undefined when the ticket has none.
     */
    async resendWebhook (operator: Operator | undefined, clientId: string, ticketId: string): Promise<string | undefined> {
      if (operator !== undefined) await app.audit({ ...operator, action: 'webhook.resend', target: `webhook:${clientId}`, after: { TicketId: ticketId } })
      return await app.webhooks.resend(clientId, ticketId)
    },

    /** Registers or changes a client's endpoint; audited when an operator does it for the client. */
    async putWebhook (operator: Operator | undefined, clientId: string, url: string, events: WebhookEventType[] | undefined) {
      if (operator !== undefined) await app.audit({ ...operator, action: 'webhook.set', target: `webhook:${clientId}`, after: { Url: url, Events: events } })
      return await app.webhooks.endpoints.put(clientId, url, events)
    },

    /** Removes a client's endpoint (404, not audited, when it has none). */
    async deleteWebhook (operator: Operator | undefined, clientId: string): Promise<void> {
      if (await app.webhooks.endpoints.get(clientId) === undefined) throw new HttpProblem('NOT_FOUND', 'No webhook endpoint is registered')
      if (operator !== undefined) await app.audit({ ...operator, action: 'webhook.delete', target: `webhook:${clientId}` })
      await app.webhooks.endpoints.remove(clientId)
    },

    /** A new signing secret for a client's endpoint (404, not audited, when it has none). */
    async rotateWebhookSecret (operator: Operator | undefined, clientId: string) {
      if (await app.webhooks.endpoints.get(clientId) === undefined) throw new HttpProblem('NOT_FOUND', 'No webhook endpoint is registered')
      if (operator !== undefined) await app.audit({ ...operator, action: 'webhook.rotate', target: `webhook:${clientId}` })
      const rotated = await app.webhooks.endpoints.rotate(clientId)
      if (rotated === undefined) throw new HttpProblem('NOT_FOUND', 'No webhook endpoint is registered')
      return rotated
    },

    /** Revokes every token of a user issued until now, or one token by its id, on every intake. */
    async revoke (operator: Operator, revocation: RevocationRequest): Promise<void> {
      const target = 'Username' in revocation ? `user:${revocation.Username}` : `token:${revocation.TokenId}`
      await app.audit({ ...operator, action: 'revocation.add', target, after: revocation })
      if ('Username' in revocation) await app.revocations.revokeUser(revocation.Username)
      else await app.revocations.revokeToken(revocation.TokenId)
    },

    /** Switches a product on or off for every intake; `by` is the operator's name as the switch keeps it. */
    async setAvailability (operator: Operator, productKey: string, available: boolean, reason: string | undefined) {
      const after = { Available: available, ...(reason === undefined ? {} : { Reason: reason }) }
      await app.audit({ ...operator, action: 'availability.set', target: productKey, before: app.availability.get(productKey), after })
      return await app.availability.set(productKey, available, reason, operator.actor)
    },

    /** An operator's enable or disable of a client's webhook endpoint (a disable stays until an operator enables). */
    async setWebhookEnabled (operator: Operator, clientId: string, enabled: boolean): Promise<void> {
      const before = await app.webhooks.endpoints.get(clientId)
      if (before === undefined) throw new HttpProblem('NOT_FOUND', `No webhook endpoint of ${clientId}`)
      await app.audit({
        ...operator,
        action: enabled ? 'webhook.enable' : 'webhook.disable',
        target: `webhook:${clientId}`,
        before: { Enabled: before.Enabled },
        after: { Enabled: enabled }
      })
      await app.webhooks.endpoints.setEnabled(clientId, enabled, enabled ? null : 'disabled by an operator')
    },

    /**
     * Starts a redrive of the tickets matching `filter` that failed for lack of an answer: they are
     * selected first, then the start is audited (with the filter and the count), then the workers'
     * runners send them back. Nothing is started, and nothing audited, when nothing matched.
     */
    async startRedrive (operator: Operator, filter: RedriveFilter): Promise<{ id: string | undefined, selected: number, sample: RedriveSample[] }> {
      const selection = await app.redrives.select(filter, operator.actor)
      if (selection.id === undefined) return selection
      try {
        await app.audit({ ...operator, action: 'redrive.start', target: `redrive:${selection.id}`, after: { Filter: filter, Selected: selection.selected } })
      } catch (err) {
        await app.redrives.discard(selection.id)
        throw err
      }
      await app.redrives.start(selection.id)
      return selection
    },

    /** Stops a running redrive (audited with its counts); one that is over is answered as it is. 404 when unknown. */
    async stopRedrive (operator: Operator, id: string): Promise<RedriveView> {
      const before = await app.redrives.progress(id)
      if (before === undefined) throw new HttpProblem('NOT_FOUND', `No redrive ${id}`)
      if (before.State !== 'running') return before
      await app.audit({ ...operator, action: 'redrive.stop', target: `redrive:${id}`, before })
      await app.redrives.stop(id)
      return { ...before, State: 'stopped' }
    },

    /**
     * A product's upstream breaker opened or closed: no operator did it, the workers' outcomes did,
     * so the entry's actor is `system`. Its transition's `Seq` tells a repeated entry apart (an
     * entry is written at least once: two intakes may both write it).
     */
    async breakerTransition (productKey: string, t: BreakerTransition): Promise<void> {
      await app.audit({
        actor: 'system',
        address: '',
        action: t.to === 'open' ? 'breaker.open' : 'breaker.close',
        target: productKey,
        before: { State: t.from },
        after: {
          State: t.to === 'open' ? 'open' : 'closed',
          Seq: t.seq,
          At: new Date(t.at).toISOString(),
          Reason: t.reason,
          ...(t.probeAt === undefined ? {} : { NextProbeAt: new Date(t.probeAt).toISOString() })
        }
      })
    }
  }
}

async function operatorActionsPlugin (app: FastifyInstance): Promise<void> {
  app.decorate('operatorActions', createOperatorActions(app))
}

export default fp(operatorActionsPlugin, {
  name: 'operator-actions',
  dependencies: ['records', 'audit', 'webhooks', 'ticket-queues', 'availability', 'revocations', 'redrives'],
  fastify: '5.x'
})
