import type { FastifyInstance } from 'fastify'
import type { Product } from '@request-out/product-catalog'
import type { Principal } from '../plugins/auth.js'
import { returnQuota, takeQuota, type QuotaState } from '../quota.js'

/**
 * What a ticket holds while it is being admitted: a place in its product's queue (the overload
 * guard's count), a fair-share turn, a unit of its client's quota. Each is taken through this
 * object and given back by `close()` unless the ticket kept it: the place once its job was added,
 * the turn and the quota unit only when it was a new ticket. `admit()` closes it on every exit
 * path, so a refusal added anywhere in between cannot leak one. This is the only module that
 * gives any of them back.
 */
export class Admission {
  readonly #app: FastifyInstance
  readonly #product: Product
  readonly #principal: Principal
  #place = false
  #turn: Promise<number> | undefined
  #quota: QuotaState | undefined
  #enqueued = false
  #fresh = false

  constructor (app: FastifyInstance, product: Product, principal: Principal) {
    this.#app = app
    this.#product = product
    this.#principal = principal
  }

  /**
   * Counts the ticket against its client's quota; a refused one is not counted. Undefined, and no
   * promise, when the client has no quota: nothing is then awaited before the turn is taken, so a
   * batch's tickets ask for their turns in one tick (one script call).
   */
  takeQuota (): Promise<QuotaState> | undefined {
    const quota = this.#principal.quota
    if (quota === undefined) return undefined
    return takeQuota(this.#app.redis.producer, this.#app.config.env.QUEUE_PREFIX, this.#principal.clientId, quota)
      .then((state) => { this.#quota = state; return state })
  }

  /** A place in the product's queue; false when it holds MAX_QUEUE_DEPTH waiting jobs (or its counts are stale). */
  takePlace (): boolean {
    this.#place = this.#app.ticketQueues.reserve(this.#product.key, this.#app.config.env.MAX_QUEUE_DEPTH)
    return this.#place
  }

  /** The client's fair-share turn (a product without fair sharing has none), taken beside the claim. */
  takeTurn (): Promise<number> | undefined {
    this.#turn = this.#app.ticketQueues.takeTurn(this.#product, this.#principal.clientId)
    return this.#turn
  }

  /**
   * Adds the ticket's job in the place taken, at its turn's priority. `fresh`: a new ticket keeps
   * its turn and quota unit; a ticket claimed before (its job lost, added again now) gives them back.
   */
  async enqueue (job: Parameters<FastifyInstance['ticketQueues']['enqueue']>[1], fresh: boolean): Promise<void> {
    // The queue's own count takes the place over from here, whether the add succeeds or not; a
    // failed add keeps no turn and no quota unit.
    this.#enqueued = true
    await this.#app.ticketQueues.enqueue(this.#product, job, this.#turn)
    this.#fresh = fresh
  }

  /** Where the client's quota stands once what was not kept is given back (for the RateLimit fields). */
  get quota (): QuotaState | undefined {
    const q = this.#quota
    if (q === undefined || !q.allowed || this.#fresh) return q
    return { ...q, remaining: q.remaining + 1 }
  }

  /**
   * Gives back whatever the ticket did not keep; a promise only when there is a quota unit to give
   * back. Never rejects: a turn or unit that could not be given back costs a tie with the client's
   * next ticket, or one ticket of its quota.
   */
  close (): Promise<void> | undefined {
    const { ticketQueues, redis, config } = this.#app
    if (this.#place && !this.#enqueued) ticketQueues.release(this.#product.key)
    if (this.#fresh) return undefined
    // Not awaited: the answer does not wait for a turn's return.
    if (this.#turn !== undefined) void ticketQueues.returnTurn(this.#product, this.#principal.clientId, this.#turn).catch(() => {})
    const quota = this.#principal.quota
    if (quota === undefined || this.#quota?.allowed !== true) return undefined
    return returnQuota(redis.producer, config.env.QUEUE_PREFIX, this.#principal.clientId, quota).catch(() => {})
  }
}

/** Runs `admitting` with an Admission that is closed however it ends. */
export async function admit<T> (app: FastifyInstance, product: Product, principal: Principal, admitting: (admission: Admission) => Promise<T>): Promise<T> {
  const admission = new Admission(app, product, principal)
  try {
    return await admitting(admission)
  } finally {
    // Only a quota unit's return is waited for; a new ticket has nothing to give back.
    const closing = admission.close()
    if (closing !== undefined) await closing
  }
}
