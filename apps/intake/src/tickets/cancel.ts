import type { JobType } from 'bullmq'
import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import {
  cancelledEnvelope, cancellingEnvelope, finalRecordEnvelope, notReadyEnvelope, parseProductKey, type BulkCancelFilter, type TicketEnvelope
} from '@request-out/contracts'
import { ticketKey } from '@request-out/redis-keys'
import { HttpProblem, unavailable } from '../http-problem.js'
import { mayActFor, type Principal } from '../plugins/auth.js'
import { reading, refusal, ticketLocation, type TicketAnswer } from './answer.js'
import type { TicketReads } from './read.js'

/** The queue states a ticket can be cancelled in (its job not finished). */
const CANCELLABLE_STATES = ['waiting', 'prioritized', 'delayed', 'active'] as const
const BULK_PAGE = 500

interface TicketFields { TicketId: string, Subject: string, SubjectType: string, SubjectIdentifier: string }
const NO_PRODUCT = { Subject: '', SubjectType: '', SubjectIdentifier: '' }

/** Cancelling tickets: one (DELETE), or operators' bulk cancellation by filter. */
export function ticketCancellation (app: FastifyInstance, reads: TicketReads) {
  const { recordStore, recordWaiter, ticketQueues } = app

  /**
   * Takes a cancelled ticket's job out of its queue when it is not running, and stores the
   * cancelled record. A job that is running (locked by a worker) cannot be removed: the worker
   * holding it heard the cancellation and stops it. A ticket without a job (claimed, never queued)
   * gets its cancelled record at once.
   */
  async function removeQueuedJob (clientId: string, ticket: TicketFields, product: string, log: FastifyBaseLogger): Promise<void> {
    const job = await ticketQueues.queueFor(product)?.getJob(ticketKey(clientId, ticket.TicketId))
    if (job !== undefined) {
      try {
        await job.remove()
      } catch (err) {
        log.info({ clientId, ticketId: ticket.TicketId, reason: (err as Error).message }, 'cancellation: the ticket is running; its worker stops it')
        return
      }
    }
    // No try ran: the record says 0 tries (the ticket page shows them).
    await recordStore.writeRecord(clientId, ticket.TicketId, cancelledEnvelope(ticket), { startedAt: Date.now(), tries: 0 })
    log.info({ clientId, ticketId: ticket.TicketId, product }, 'ticket cancelled: taken out of its queue')
  }

  /**
   * DELETE: asks for the ticket's cancellation. A queued job is removed at once and the cancelled
   * record stored; a running one is stopped by the worker that holds it (every worker hears the
   * request). Answers 202 CANCELLING, or as GET would once final with `Prefer: wait`; a ticket
   * with its record answers 409 TICKET_FINAL (410 if that record is the cancellation). An admin's
   * cancellation is audited when `address` (where it came from) is given, once it happened.
   */
  async function cancel (principal: Principal, ticketId: string, owner: string, waitSeconds: number, log: FastifyBaseLogger, address?: string): Promise<TicketAnswer> {
    const forbidden = mayActFor(principal, owner, "cancel other clients' tickets")
    if (forbidden !== undefined) return refusal(forbidden)
    if (!app.redis.isReady()) return refusal(unavailable())
    const finalAnswer = (record: TicketEnvelope): TicketAnswer => reading(record.Code === 'CANCELLED' ? record : finalRecordEnvelope(record))
    const wait = waitSeconds > 0 ? recordWaiter.waitFor(ticketKey(owner, ticketId), waitSeconds * 1000) : undefined
    try {
      const request = await recordStore.requestCancel(owner, ticketId, principal.clientId)
      if (request.outcome === 'unknown') {
        // Redis forgot it; history may still hold its (final) record.
        const stored = await reads.fromHistory(owner, ticketId)
        if (stored instanceof HttpProblem) return refusal(stored)
        return stored.Code === 'NOT_FOUND' || stored.Code === 'IN_PROCESS' ? reading(notReadyEnvelope('NOT_FOUND')) : finalAnswer(stored)
      }
      if (request.outcome === 'final') return finalAnswer(request.record)
      // Audited once it happened, with the state it changed: a refused cancel (final, unknown)
      // or a repeated one changed nothing and is not audited as done.
      if (request.outcome === 'requested' && address !== undefined && principal.role === 'admin') {
        await app.audit({ actor: principal.clientId, address, action: 'ticket.cancel', target: `${owner}/${ticketId}`, clientId: owner, ticketId, before: { Code: 'IN_PROCESS' }, after: { Code: 'CANCELLING' } })
      }
      // The product key is ours (claimed under it); one that does not parse still names the ticket.
      const ticket = { TicketId: ticketId, ...(parseProductKey(request.product) ?? NO_PRODUCT) }
      if (request.outcome === 'requested') await removeQueuedJob(owner, ticket, request.product, log)
      if (wait === undefined) return reading(cancellingEnvelope(ticket), { location: ticketLocation(ticketId) })
      // As GET would answer once final: the cancelled record, or the product's if it finished first.
      const current = await reads.current(owner, ticketId, wait)
      if (current instanceof HttpProblem) return refusal(current)
      return reading(current.Code === 'IN_PROCESS' ? cancellingEnvelope(ticket) : current, { 'preference-applied': `wait=${waitSeconds}` })
    } finally {
      wait?.cancel()
    }
  }

  /**
   * Operators' bulk cancellation: every unfinished ticket of the product (or all products) in
   * the given states, of the client if one is given. A dry run only counts them; the real one is
   * audited (once, with its filter) before anything is cancelled. Resolves how many matched and
   * how many were asked to cancel.
   */
  async function cancelMatching (admin: Principal, filter: BulkCancelFilter, dryRun: boolean, log: FastifyBaseLogger, address: string): Promise<{ matched: number, cancelled: number } | HttpProblem> {
    if (!app.redis.isReady()) return unavailable()
    if (!dryRun) await app.audit({ actor: admin.clientId, address, action: 'tickets.cancel', target: JSON.stringify(filter), after: filter })
    // Waiting means waiting to run: with fair sharing, waiting jobs sit in BullMQ's prioritized set.
    const states: JobType[] = filter.State === undefined ? [...CANCELLABLE_STATES] : filter.State === 'waiting' ? ['waiting', 'prioritized'] : [filter.State]
    const products = filter.Product === undefined ? ticketQueues.all() : ticketQueues.all().filter(([key]) => key === filter.Product)
    let matched = 0
    let cancelled = 0
    for (const [, queue] of products) {
      // In pages. A cancelled queued job leaves the list, so after cancelling, the same page is read
      // again; jobs seen already (running ones stay listed until their worker stops them) are skipped.
      const seen = new Set<string>()
      for (let start = 0; ;) {
        const jobs = await queue.getJobs(states, start, start + BULK_PAGE - 1, true)
        let fresh = 0
        for (const job of jobs) {
          if (job?.id === undefined || seen.has(job.id)) continue
          seen.add(job.id)
          fresh++
          if (filter.ClientId !== undefined && job.data.ClientId !== filter.ClientId) continue
          matched++
          if (dryRun) continue
          const answered = await cancel(admin, job.data.TicketId, job.data.ClientId, 0, log)
          if (answered.kind === 'envelope' && (answered.envelope.Code === 'CANCELLING' || answered.envelope.Code === 'CANCELLED')) cancelled++
        }
        if (jobs.length < BULK_PAGE) break
        if (dryRun || fresh === 0) start += BULK_PAGE
      }
    }
    return { matched, cancelled }
  }

  return { cancel, cancelMatching }
}
