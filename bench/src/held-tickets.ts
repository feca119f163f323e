// What the long-poll and event-stream rows share: tickets no worker serves (they wait until the
// bench stores their records itself), one other ticket with its record for the latency probe, and
// records landing at a pipeline's pace.
import { setTimeout as sleep } from 'node:timers/promises'
import type { Redis } from 'ioredis'
import { completedEnvelope } from '@request-out/contracts'
import { RecordStore } from '@request-out/record-store'

interface Product { Subject: string, SubjectType: string, SubjectIdentifier: string }

const RESULT = { ResourceType: 'data', Resource: 'nik', ResourceId: 'r-1', Data: { Status: 'ok' } }

export interface HeldTickets {
  /** A GET load of the one other ticket (10 connections, 5 s): other requests' latency. */
  other: Record<string, unknown>
  /** Stores the records of `ids` at 2,500 a second (about what the pipeline stores on this machine), 50 every 20 ms; answers when each batch was sent. */
  storeAtPace: (ids: string[]) => Promise<Map<string, number>>
}

/** Submits `count` tickets `<name>-<i>` of `product` (in batches of 500) for `client`, and the other ticket with its record. */
export async function holdTickets (redis: Redis, prefix: string, base: string, authorization: string, client: string, product: Product, name: string, count: number): Promise<HeldTickets> {
  for (let b = 0; b < count / 500; b++) {
    const res = await fetch(`${base}/v1/request-out/batch`, {
      method: 'POST',
      headers: { authorization, 'content-type': 'application/json' },
      body: JSON.stringify({ Tickets: Array.from({ length: 500 }, (_, i) => ({ ...product, TicketId: `${name}-${b * 500 + i}` })) })
    })
    await res.arrayBuffer()
  }
  const records = new RecordStore(redis, { prefix, ttlSeconds: 3600 })
  const ticket = (id: string) => ({ ...product, TicketId: id })
  await records.claim(client, 'other', 'fp', `${product.Subject}/${product.SubjectType}/${product.SubjectIdentifier}`)
  await records.writeRecord(client, 'other', completedEnvelope(ticket('other'), RESULT))
  return {
    other: { url: base, connections: 10, durationSeconds: 5, method: 'GET', headers: { authorization }, paths: ['/v1/request-out/other'] },
    storeAtPace: async (ids) => {
      const storedAt = new Map<string, number>()
      const paceStart = Date.now()
      for (let b = 0; b < ids.length; b += 50) {
        const due = paceStart + (b / 50) * 20 - Date.now()
        if (due > 0) await sleep(due)
        const sent = Date.now()
        await Promise.all(ids.slice(b, b + 50).map(async (id) => {
          storedAt.set(id, sent)
          await records.writeRecord(client, id, completedEnvelope(ticket(id), RESULT))
        }))
      }
      return storedAt
    }
  }
}
