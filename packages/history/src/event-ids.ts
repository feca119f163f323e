import { eventId } from '@request-out/record-store'

/**
 * History keys each event by `<group>:<stream entry id>` (one row per stream entry, whoever wrote
 * it); clients see the event's one id (record-store's eventId) made of the same two parts.
 */
export function timelineId (historyEventId: string): string {
  const at = historyEventId.indexOf(':')
  return eventId(Number(historyEventId.slice(0, at)), historyEventId.slice(at + 1))
}
