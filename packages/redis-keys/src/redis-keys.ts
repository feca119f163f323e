import { TICKET_GROUPS, ticketGroup, ticketKey } from './ticket-id.js'

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64url')

/**
 * Where a BullMQ queue lives: its name and the prefix BullMQ builds its own keys under.
 * @public (named by the declaration of RedisKeys)
 */
export interface QueuePlacement {
  name: string
  prefix: string
}

/**
 * Every Redis key and channel of Request Out, produced from QUEUE_PREFIX; nothing else builds one.
 * Hash tags (`{…}`) put what one script touches in one Redis Cluster slot: a ticket's hash beside
 * its group's event stream (`{tg<n>}`), a product's queue beside the keys kept per queue
 * (`{<product>}`), the login counters together (`{login}`). `<id>` is ticketKey(): also the
 * ticket's BullMQ job id. Each family is listed in KEY_FAMILIES as docs/architecture.md names it.
 */
export function redisKeys (prefix: string): RedisKeys {
  let keys = byPrefix.get(prefix)
  if (keys === undefined) {
    keys = keysOf(prefix)
    byPrefix.set(prefix, keys)
  }
  return keys
}

/** Made once per prefix: callers on the request path ask for them per request. */
const byPrefix = new Map<string, RedisKeys>()

function keysOf (prefix: string) {
  const tag = (t: string): string => `${prefix}:{${t}}`
  const group = (clientId: string, ticketId: string): string => tag(`tg${ticketGroup(clientId, ticketId)}`)
  /** A key BullMQ's queue `product` holds (`queue.toKey(type)`), or one we keep beside them. */
  const inQueue = (product: string, type: string): string => `${tag(product)}:${product}:${type}`
  const breaker = (clientId: string): string => `${prefix}:webhook-breaker:${b64(clientId)}`
  return {
    /** A ticket's hash (TicketField): fingerprint, product, acceptance time, its record once final. */
    ticket: (clientId: string, ticketId: string): string => `${group(clientId, ticketId)}:ticket:${ticketKey(clientId, ticketId)}`,
    /** The append-only stream of every change of a ticket group's tickets. */
    ticketEvents: (groupNumber: number): string => `${tag(`tg${groupNumber}`)}:events`,
    /** "ticket <id> has its record": wakes long polls (channel). */
    records: `${prefix}:records`,
    /** "cancel ticket <id>": tells the worker running it (channel). */
    cancels: `${prefix}:cancels`,
    /** A product's BullMQ queue. */
    productQueue: (product: string): QueuePlacement => ({ name: product, prefix: tag(product) }),
    /** BullMQ's sorted set of a product's prioritized jobs (fair sharing reads it). */
    prioritized: (product: string): string => inQueue(product, 'prioritized'),
    /** Each client's next fair-share priority in a product's queue. */
    fairShare: (product: string): string => inQueue(product, 'ro-fair'),
    /** A client's tickets running in a product's queue, leased by the workers (MAX_CLIENT_CONCURRENCY). */
    clientRunning: (product: string, clientId: string): string => inQueue(product, `ro-running:${b64(clientId)}`),
    /** BullMQ's rate-limit key of a product's queue: while it lives, no worker of the queue takes a job. */
    limiter: (product: string): string => inQueue(product, 'limiter'),
    /** A product's upstream breaker: its state, since when, the next probe, failures in a row. */
    breaker: (product: string): string => inQueue(product, 'ro-breaker'),
    /** A product's upstream calls and failures, counted in tenths of the breaker's window. */
    breakerCalls: (product: string): string => inQueue(product, 'ro-breaker-calls'),
    /** The one try that probes a product's open breaker, leased. */
    breakerProbe: (product: string): string => inQueue(product, 'ro-breaker-probe'),
    /** A product's breaker transitions waiting for their audit entry (a list, oldest first). */
    breakerTransitions: (product: string): string => inQueue(product, 'ro-breaker-transitions'),
    /** BullMQ's hash of one job of a product's queue (its `data` is the ticket's input): the history writer reads a failed ticket's input from it. */
    job: (product: string, jobId: string): string => inQueue(product, jobId),
    /** BullMQ's sorted set of a product's failed jobs, by when they failed (a redrive selects from it). */
    failed: (product: string): string => inQueue(product, 'failed'),
    /** Redrives still sending tickets back, by creation time (the workers' runners take them from here). */
    redrives: `${prefix}:redrives`,
    /** A redrive: its state, filter, who started it, its cursor in its selection. */
    redrive: (id: string): string => `${prefix}:redrive:${id}`,
    /** A redrive's selected tickets, in order (JSON entries). */
    redriveTickets: (id: string): string => `${prefix}:redrive:${id}:tickets`,
    /** The tickets a redrive sent back, scored by when (its exactly-once mark). */
    redriveQueued: (id: string): string => `${prefix}:redrive:${id}:queued`,
    /** The tickets a redrive left, with why. */
    redriveSkipped: (id: string): string => `${prefix}:redrive:${id}:skipped`,
    /** The inputs and fingerprints a redrive selected from history, by ticket: sent with a ticket Redis forgot, dropped once it is handled. */
    redriveInputs: (id: string): string => `${prefix}:redrive:${id}:inputs`,
    /** The worker running a redrive, leased. */
    redriveLease: (id: string): string => `${prefix}:redrive:${id}:lease`,
    /** The webhook deliveries' BullMQ queue. */
    webhookQueue: { name: 'webhooks', prefix: tag('webhooks') } satisfies QueuePlacement,
    /** Clients' webhook endpoints, one hash field per client. */
    webhookEndpoints: `${prefix}:webhooks`,
    /** A ticket's webhook events, as their deliveries and re-sends send them. */
    webhookEvents: (ticket: string): string => `${prefix}:webhook-events:${ticket}`,
    /** A ticket's one frozen event as kept before each event had its own (read until it expires). */
    webhookLastEvent: (ticket: string): string => `${prefix}:webhook-last:${ticket}`,
    /** A ticket's delivery attempts, newest first. */
    webhookLog: (ticket: string): string => `${prefix}:webhook-log:${ticket}`,
    /** An endpoint's deliveries in flight, leased. */
    webhookInFlight: (clientId: string): string => `${prefix}:webhook-inflight:${b64(clientId)}`,
    /** An endpoint's circuit breaker. */
    webhookBreaker: breaker,
    /** The one delivery that probes an open breaker. */
    webhookProbe: (clientId: string): string => `${breaker(clientId)}:probe`,
    /** An endpoint's delivery outcomes of one hour. */
    webhookStats: (clientId: string, hour: number): string => `${prefix}:webhook-stats:${b64(clientId)}:${hour}`,
    /** The admin switches of products. */
    availability: `${prefix}:availability`,
    /** Revoked token ids and users (hash), and where new ones are announced (channel of the same name). */
    revocations: `${prefix}:revocations`,
    /** Failed logins of one (address, user) pair in a one-minute window. */
    loginPair: (window: number, address: string, username: string): string => `${tag('login')}:pair:${window}:${address}:${b64(username)}`,
    /** Failed logins of one user over all addresses in a window. */
    loginUser: (window: number, username: string): string => `${tag('login')}:user:${window}:${b64(username)}`,
    /** Failed logins from one address over all users in a window. */
    loginAddress: (window: number, address: string): string => `${tag('login')}:addr:${window}:${address}`,
    /** A client's rate-limit count of one window. */
    rate: (clientId: string, window: number): string => `${prefix}:rate:${b64(clientId)}:${window}`,
    /** A client's open event streams (SSE) over every intake, leased: member `<intake>:<stream>`, score = lease end (ms). */
    eventStreams: (clientId: string): string => `${prefix}:event-streams:${b64(clientId)}`,
    /** A client's quota count of one window. */
    quota: (clientId: string, perSeconds: number, index: number): string => `${prefix}:quota:${b64(clientId)}:${perSeconds}:${index}`,
    /** Every key of this deployment, as a SCAN pattern. */
    all: `${prefix}:*`
  }
}

export type RedisKeys = ReturnType<typeof keysOf>

/** Every ticket group's event stream: what a consumer of ticket events reads. */
export function allTicketEvents (keys: RedisKeys): string[] {
  return Array.from({ length: TICKET_GROUPS }, (_, n) => keys.ticketEvents(n))
}

/**
 * Each family as docs/architecture.md's Redis table names it (QUEUE_PREFIX `ro`). Typed over
 * RedisKeys, so a family added above without its line here does not compile, and a test fails
 * when the table lacks one of these.
 */
export const KEY_FAMILIES: Readonly<Record<Exclude<keyof RedisKeys, 'all'>, string>> = {
  ticket: 'ro:{tg<n>}:ticket:<id>',
  ticketEvents: 'ro:{tg<n>}:events',
  records: 'ro:records',
  cancels: 'ro:cancels',
  productQueue: 'ro:{<product>}:<product>:*',
  prioritized: 'ro:{<product>}:<product>:prioritized',
  fairShare: 'ro:{<product>}:<product>:ro-fair',
  clientRunning: 'ro:{<product>}:<product>:ro-running:<client>',
  limiter: 'ro:{<product>}:<product>:limiter',
  breaker: 'ro:{<product>}:<product>:ro-breaker',
  breakerCalls: 'ro:{<product>}:<product>:ro-breaker-calls',
  breakerProbe: 'ro:{<product>}:<product>:ro-breaker-probe',
  breakerTransitions: 'ro:{<product>}:<product>:ro-breaker-transitions',
  job: 'ro:{<product>}:<product>:<job id>',
  failed: 'ro:{<product>}:<product>:failed',
  redrives: 'ro:redrives',
  redrive: 'ro:redrive:<redrive>',
  redriveTickets: 'ro:redrive:<redrive>:tickets',
  redriveQueued: 'ro:redrive:<redrive>:queued',
  redriveSkipped: 'ro:redrive:<redrive>:skipped',
  redriveInputs: 'ro:redrive:<redrive>:inputs',
  redriveLease: 'ro:redrive:<redrive>:lease',
  webhookQueue: 'ro:{webhooks}:webhooks:*',
  webhookEndpoints: 'ro:webhooks',
  webhookEvents: 'ro:webhook-events:<id>',
  webhookLastEvent: 'ro:webhook-last:<id>',
  webhookLog: 'ro:webhook-log:<id>',
  webhookInFlight: 'ro:webhook-inflight:<client>',
  webhookBreaker: 'ro:webhook-breaker:<client>',
  webhookProbe: 'ro:webhook-breaker:<client>:probe',
  webhookStats: 'ro:webhook-stats:<client>:<hour>',
  availability: 'ro:availability',
  revocations: 'ro:revocations',
  loginPair: 'ro:{login}:pair:<window>:<address>:<user>',
  loginUser: 'ro:{login}:user:<window>:<user>',
  loginAddress: 'ro:{login}:addr:<window>:<address>',
  eventStreams: 'ro:event-streams:<client>',
  rate: 'ro:rate:<client>:<window>',
  quota: 'ro:quota:<client>:<seconds>:<window>'
}
