import type { FastifyInstance } from 'fastify'
import { notReadyEnvelope, type TicketEnvelope } from '@request-out/contracts'
import { ticketKey } from '@request-out/redis-keys'
import { HttpProblem, unavailable } from '../http-problem.js'
import { mayActFor, type Principal } from '../plugins/auth.js'
import { reading, refusal, type TicketAnswer } from './answer.js'

/** A long poll's wait for a ticket's record: resolves true when it landed. */
export interface RecordWait { promise: Promise<boolean> }

/** Reading tickets back: GET, a long poll, and what a re-POST or a cancellation answers with. */
export function ticketReads (app: FastifyInstance) {
  const { recordStore, recordWaiter } = app

  /**
   * A ticket Redis no longer holds (past RECORD_TTL_SECONDS), from the history: its newest
   * acceptance's record, or NOT_FOUND only when history has none either. History unreachable is a
   * 503 within HISTORY_QUERY_TIMEOUT_MS, never a false NOT_FOUND.
   */
  async function fromHistory (clientId: string, ticketId: string): Promise<TicketEnvelope | HttpProblem> {
    const store = app.history.store
    if (store === undefined) return notReadyEnvelope('NOT_FOUND')
    let stored
    try {
      stored = await store.latest(clientId, ticketId)
    } catch (err) {
      app.log.warn({ err, clientId, ticketId }, 'ticket history not reachable')
      return unavailable('Ticket history is not reachable; retry later')
    }
    // An acceptance without its record that Redis no longer holds will never get one (Redis lost
    // it, or it expired unfinished): NOT_FOUND, so the client POSTs it again.
    return stored?.record ?? notReadyEnvelope('NOT_FOUND')
  }

  /** The record if stored, else the seed's in-process answer after waiting up to the long poll. */
  async function current (clientId: string, ticketId: string, wait: RecordWait | undefined): Promise<TicketEnvelope | HttpProblem> {
    let state = await recordStore.read(clientId, ticketId, wait !== undefined)
    if (!state.exists) return await fromHistory(clientId, ticketId)
    if (state.record === undefined && wait !== undefined && await wait.promise) {
      state = await recordStore.read(clientId, ticketId)
    }
    if (!state.exists) return notReadyEnvelope('NOT_FOUND')
    return state.record ?? notReadyEnvelope('IN_PROCESS')
  }

  return {
    fromHistory,
    current,

    /** GET: the ticket's record, or the seed's answer while it has none (admins read any client's). */
    async read (principal: Principal, ticketId: string, ownerId: string, waitSeconds: number): Promise<TicketAnswer> {
      const forbidden = mayActFor(principal, ownerId, "read other clients' tickets")
      if (forbidden !== undefined) return refusal(forbidden)
      if (!app.redis.isReady()) return refusal(unavailable())
      const wait = waitSeconds > 0 ? recordWaiter.waitFor(ticketKey(ownerId, ticketId), waitSeconds * 1000) : undefined
      try {
        const found = await current(ownerId, ticketId, wait)
        if (found instanceof HttpProblem) return refusal(found)
        return reading(found, wait === undefined ? {} : { 'preference-applied': `wait=${waitSeconds}` })
      } finally {
        wait?.cancel()
      }
    }
  }
}

export type TicketReads = ReturnType<typeof ticketReads>
