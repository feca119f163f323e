/**
 * The fields of a ticket's Redis hash (`RedisKeys.ticket`): the one place their names are written;
 * the scripts take them from here too.
 */
export const TicketField = {
  /** The fingerprint of its fields (TicketFingerprints), or ERASED_FINGERPRINT. */
  fingerprint: 'fp',
  /** Its product's key. */
  product: 'product',
  /** Epoch ms of its acceptance: names which acceptance of a TicketId an event belongs to. */
  acceptedAt: 'at',
  /** Its record once it has one (the envelope GET answers, JSON). */
  record: 'rec',
  /** The record's code. */
  code: 'code',
  /** Names the try whose outcome the record is (the job's processedOn). */
  tryId: 'try',
  /** The job's stall count whose lost try is in the events already (a take-over appends it once). */
  lostTries: 'lost',
  /** The redrive that sent it back to its queue last (its id). */
  redrive: 'rd',
  /** Epoch ms its cancellation was asked. */
  cancel: 'cancel',
  /** Set when a long poll waits on it: its record is announced on the records channel. */
  watched: 'w'
} as const
