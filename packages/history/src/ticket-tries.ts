import type { TicketEnvelope, TimelineEntry, TryEntry } from '@request-out/contracts'

const text = (v: unknown): string | null => typeof v === 'string' && v !== '' ? v : null
const ms = (v: unknown): number | null => text(v) === null || Number.isNaN(Number(v)) ? null : Number(v)
const iso = (v: unknown): string | null => { const n = ms(v); return n === null ? null : new Date(n).toISOString() }

/**
 * A ticket's tries, oldest first, read from its timeline: each `try-failed` event is one (failed, or
 * lost with its worker), and a record that is a success or a rejection ends one more. Rounds are
 * counted at each operator retry (`job.retry`, whose actor started the round) and each redrive
 * (`redriven`, started by `redrive:<id>`). A `PRODUCT_FAILED`
 * record written before every try had its event (or by the failed-job handler) stands for its last
 * try, with the record's message as the reason.
 */
export function ticketTries (timeline: readonly TimelineEntry[], record: TicketEnvelope | null): TryEntry[] {
  const tries: TryEntry[] = []
  let round = 1
  let startedBy = 'client'
  for (const e of timeline) {
    const d = e.Details
    if (e.Type === 'job.retry' || e.Type === 'redriven') {
      round++
      startedBy = text(e.Type === 'redriven' ? d.by : d.Actor) ?? 'operator'
      continue
    }
    const base = { Round: round, StartedBy: startedBy, Worker: text(d.worker) }
    if (e.Type === 'try-failed') {
      tries.push({ ...base, Attempt: ms(d.attempt) ?? 1, StartedAt: iso(d.startedAt), DurationMs: ms(d.durationMs), Outcome: d.outcome === 'lost' ? 'lost' : 'failed', Reason: text(d.error) })
      continue
    }
    if (e.Type !== 'record') continue
    const attempt = ms(d.tries) ?? 1
    const startedAt = ms(d.startedAt)
    const timed = { Attempt: attempt, StartedAt: iso(d.startedAt), DurationMs: startedAt === null ? null : Math.max(0, Date.parse(e.At) - startedAt) }
    if (d.code === 'SUCCESS') tries.push({ ...base, ...timed, Outcome: 'succeeded', Reason: null })
    else if (d.code === 'PRODUCT_REJECTED') tries.push({ ...base, ...timed, Outcome: 'rejected', Reason: record?.Code === 'PRODUCT_REJECTED' ? record.Message : null })
    else if (d.code === 'PRODUCT_FAILED' && !tries.some((t) => t.Round === round && t.Attempt === attempt && t.Outcome === 'failed')) {
      tries.push({ ...base, ...timed, Outcome: 'failed', Reason: record?.Message ?? null })
    }
  }
  return tries
}
