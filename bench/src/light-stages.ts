// Where the light load's POST → record time goes, per stage, from what the system records anyway:
// the ticket's `accepted` and `record` events (claim time; the try's start and the record time) and
// its job hash (when BullMQ added it and moved it to active).
import type { Redis } from 'ioredis'
import { percentile } from './report.js'
import { allTicketEvents, parseTicketKey, redisKeys } from '@request-out/redis-keys'

export interface StageFigures { p50Ms: number, p99Ms: number, maxMs: number }

export async function lightStages (redis: Redis, prefix: string, jobKeyPrefix: string, sentAt: Map<string, number>, recordedAt: Map<string, number>): Promise<Record<string, StageFigures>> {
  const events = new Map<string, Record<string, Record<string, string>>>()
  for (const stream of allTicketEvents(redisKeys(prefix))) {
    for (const [, flat] of await redis.xrange(stream, '-', '+')) {
      const f: Record<string, string> = {}
      for (let i = 0; i + 1 < flat.length; i += 2) f[flat[i] as string] = flat[i + 1] as string
      const type = f.type
      if (type !== 'accepted' && type !== 'record') continue
      const id = `${f.clientId ?? ''}\n${f.ticketId ?? ''}`
      events.set(id, { ...events.get(id), [type]: f })
    }
  }
  const stages = new Map<string, number[]>()
  const add = (stage: string, ms: number): void => {
    const list = stages.get(stage) ?? []
    if (list.length === 0) stages.set(stage, list)
    list.push(ms)
  }
  for (const [key, sent] of sentAt) {
    const parsed = parseTicketKey(key)
    const e = parsed === undefined ? undefined : events.get(`${parsed.clientId}\n${parsed.ticketId}`)
    const seen = recordedAt.get(key)
    const [added, active] = (await redis.hmget(`${jobKeyPrefix}:${key}`, 'timestamp', 'processedOn')).map(Number)
    if (e?.accepted === undefined || e.record === undefined || seen === undefined || added === undefined || active === undefined) continue
    const claim = Number(e.accepted.at)
    const start = Number(e.record.startedAt)
    const stored = Number(e.record.at)
    add('POST → claim', claim - sent)
    add('claim → add', added - claim)
    add('add → active', active - added)
    add('active → processor', start - active)
    add('processor → record', stored - start)
    add('record → seen', seen - stored)
  }
  return Object.fromEntries([...stages].map(([stage, values]) => {
    values.sort((a, b) => a - b)
    return [stage, { p50Ms: percentile(values, 0.5), p99Ms: percentile(values, 0.99), maxMs: values[values.length - 1] ?? Number.NaN }]
  }))
}
