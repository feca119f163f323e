/**
 * The one id of a ticket event, wherever it is shown: `msg_<group>_<ms>_<seq>`, made of the ticket
 * group whose stream holds it and its stream entry id (`<ms>-<seq>`). The webhook-id header, the
 * webhook body's `id`, the admin timeline's `Id` and an event stream's `id:` all carry it, and a
 * client that read one can resume after it from any intake.
 */
export function eventId (group: number, streamId: string): string {
  return `msg_${group}_${streamId.replace('-', '_')}`
}

const EVENT_ID = /^msg_(\d{1,4})_(\d{1,16})_(\d{1,16})$/

/** The group and stream entry id an event id names; undefined for anything else. */
export function parseEventId (id: string): { group: number, streamId: string } | undefined {
  const m = EVENT_ID.exec(id)
  if (m === null) return undefined
  return { group: Number(m[1]), streamId: `${m[2]}-${m[3]}` }
}

/** Orders stream entry ids (`<ms>-<seq>`): by time, then sequence. */
export function compareStreamIds (a: string, b: string): number {
  const [am = 0, as = 0] = a.split('-').map(Number)
  const [bm = 0, bs = 0] = b.split('-').map(Number)
  return am === bm ? as - bs : am - bm
}
