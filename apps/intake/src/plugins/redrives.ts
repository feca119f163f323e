import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { TicketFingerprints } from '@request-out/record-store'
import { RedriveStore } from '@request-out/redrive'

declare module 'fastify' {
  interface FastifyInstance {
    /** Redrives: selected here, sent back by the workers' runners; started and stopped through the operator actions. */
    redrives: RedriveStore
  }
}

async function redrivesPlugin (app: FastifyInstance): Promise<void> {
  const { env, catalog, fingerprintKeys } = app.config
  const history = app.history.store
  const fingerprints = new TicketFingerprints(fingerprintKeys.current, fingerprintKeys.previous)
  app.decorate('redrives', new RedriveStore(app.redis.producer, {
    prefix: env.QUEUE_PREFIX,
    maxAgeDays: env.REDRIVE_MAX_AGE_DAYS,
    products: catalog.keys(),
    // A forgotten ticket is made again with the fingerprint its POST had: the same key makes the same one.
    history: history === undefined
      ? undefined
      : { source: { failedTickets: async (...page) => await app.history.read(async (h) => h.failedTickets(...page)) }, fingerprintOf: (ticket) => fingerprints.of(ticket).value }
  }))
}

export default fp(redrivesPlugin, { name: 'redrives', dependencies: ['config', 'redis', 'history'], fastify: '5.x' })
