import type { FastifyInstance } from 'fastify'
import type { BeforeHookResult, HookContext } from '@bull-board/api/dist/types.js'
import type { AuditAction, TicketJob } from '@request-out/contracts'
import { OPERATOR_ADDRESS_HEADER, OPERATOR_HEADER } from './admin-session.js'

/**
 * bull-board actions that would break the ticket contract, refused whatever the job. The queue is
 * an implementation detail of a ticket: its data came through the intake's checks, its removal
 * would leave a client polling forever, and the product's switch lives on the Products page.
 */
const REFUSED: Record<string, string> = {
  'POST /api/queues/:queueName/add': 'Tickets enter through POST /v1/request-out, where they are authenticated and validated; jobs are not added by hand',
  'PATCH /api/queues/:queueName/:jobId/update-data': 'Ticket data is not editable: it was validated when the client sent it. The client sends a new ticket instead',
  'PUT /api/queues/:queueName/empty': 'Emptying a queue would leave its clients polling forever: switch the product off on the Products page',
  'PUT /api/queues/:queueName/obliterate': 'Obliterating a queue would leave its clients polling forever: switch the product off on the Products page',
  'PUT /api/queues/:queueName/pause': 'A product has one switch: use the Products page (it stops new tickets on every intake)',
  'PUT /api/queues/:queueName/resume': 'A product has one switch: use the Products page (it stops new tickets on every intake)',
  'PUT /api/queues/pause': 'A product has one switch: use the Products page (it stops new tickets on every intake)',
  'PUT /api/queues/resume': 'A product has one switch: use the Products page (it stops new tickets on every intake)',
  'PUT /api/queues/:queueName/concurrency': "Concurrency comes from the product's catalog entry",
  'PUT /api/queues/:queueName/rate-limit': "Rate limits come from the product's catalog entry",
  'PUT /api/queues/:queueName/rate-limit/release': "Rate limits come from the product's catalog entry",
  'PUT /api/queues/:queueName/retry/:queueStatus': 'Retry failed jobs one at a time: a ticket the product rejected (422) is final, and a retry of it would change nothing'
}

/**
 * The dashboard writes that may pass, by the audit trail's name of each. Every other write is
 * refused (a closed list: a bull-board upgrade that adds an action adds nothing here until it is
 * named), as the ones in REFUSED are, with their reasons.
 */
const ALLOWED_WRITES: Record<string, AuditAction> = {
  'PUT /api/queues/:queueName/:jobId/retry': 'job.retry',
  'PUT /api/queues/:queueName/:jobId/clean': 'job.remove',
  'PUT /api/queues/:queueName/:jobId/promote': 'job.promote',
  'PUT /api/queues/:queueName/clean/:queueStatus': 'queue.clean',
  'PUT /api/queues/:queueName/promote': 'queue.promote'
}

/** States whose jobs have finished: their tickets have a record, so removing the job loses nothing. */
const FINISHED = new Set(['completed', 'failed'])

const refuse = (status: 403 | 409 | 500, message: string): BeforeHookResult => ({ allow: false, status, message })

/**
 * bull-board's `before` hook: every dashboard action passes here first. Refuses what would corrupt
 * or strand a ticket, and a retry that could not change the ticket's record. Reads, promotions,
 * retries of tickets that failed for lack of an answer, and cleaning finished jobs pass.
 */
export function dashboardGuard (app: FastifyInstance) {
  const { recordStore, ticketQueues } = app

  async function ticketOf (queueName: string, jobId: string): Promise<{ data: TicketJob, state: string } | undefined> {
    const job = await ticketQueues.queueFor(queueName)?.getJob(jobId)
    if (job === undefined) return undefined
    return { data: job.data, state: await job.getState() }
  }

  /** Every write that passes is audited first (a write whose entry cannot be recorded is refused). */
  async function audited (action: AuditAction, request: HookContext['request']): Promise<BeforeHookResult> {
    const { queueName = '', jobId = '', queueStatus = '' } = request.params as Record<string, string | undefined>
    const ticket = jobId === '' ? undefined : await ticketOf(queueName, jobId)
    try {
      await app.audit({
        actor: request.headers[OPERATOR_HEADER] ?? 'unknown',
        address: request.headers[OPERATOR_ADDRESS_HEADER] ?? '',
        action,
        target: [queueName, jobId || queueStatus].filter((s) => s !== '').join('/'),
        ...(ticket === undefined ? {} : { clientId: ticket.data.ClientId, ticketId: ticket.data.TicketId, before: { state: ticket.state } })
      })
    } catch {
      // bull-board passes on only a few statuses (no 503); the action is not done either way.
      return refuse(500, 'The audit trail cannot be written now, so nothing was changed; retry later')
    }
    return undefined
  }

  return async ({ method, route, request }: HookContext): Promise<BeforeHookResult> => {
    const action = `${method.toUpperCase()} ${route}`
    const refusal = REFUSED[action]
    if (refusal !== undefined) return refuse(403, refusal)
    const { queueName = '', jobId = '', queueStatus = '' } = request.params as Record<string, string | undefined>

    if (action === 'PUT /api/queues/:queueName/clean/:queueStatus' && !FINISHED.has(queueStatus)) {
      return refuse(403, `Cleaning ${queueStatus} jobs would leave their clients polling forever; only completed and failed jobs may be cleaned`)
    }
    if (action === 'PUT /api/queues/:queueName/:jobId/clean') {
      const ticket = await ticketOf(queueName, jobId)
      if (ticket !== undefined && !FINISHED.has(ticket.state) && !(await recordStore.hasFinalRecord(ticket.data.ClientId, ticket.data.TicketId))) {
        return refuse(409, `This ticket is ${ticket.state} and has no final record: removing its job would leave the client polling forever`)
      }
    }
    if (action === 'PUT /api/queues/:queueName/:jobId/retry') {
      const refused = await app.operatorActions.retryRefusal(await ticketQueues.queueFor(queueName)?.getJob(jobId))
      if (refused !== undefined) return refuse(409, refused)
    }
    if (method.toUpperCase() === 'GET') return undefined
    const audit = ALLOWED_WRITES[action]
    if (audit === undefined) return refuse(403, 'This dashboard action is not one Request Out allows: tickets change through the API and the operator pages')
    return await audited(audit, request)
  }
}
