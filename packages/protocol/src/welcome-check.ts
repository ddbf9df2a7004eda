import { continuesCursor } from './cursor.js';
import { OplogError } from './errors.js';
import type { SchemaFingerprint, Welcome } from './frames.js';

/** What a producer knows of its source when the consumer's welcome arrives. */
export interface ProducerLog {
  incarnation: string;
  schema: SchemaFingerprint;
  /** The outbox's head seq. */
  headSeq: number;
  /** The transaction of the outbox entry at the welcome cursor's seq; undefined when the outbox no longer holds it. */
  txIdAtCursor: string | undefined;
  /** The oldest seq the outbox holds; undefined when it is empty. */
  oldest: number | undefined;
}

/**
 * Whether the producer can do what a welcome asks, or the error it ends the session with (and tells the consumer).
 * A cursor of this incarnation must be continued by the log (see continuesCursor), even before a snapshot: a resumed
 * one continues from a cursor, and pages, of the history it began on; otherwise OPLOG_SOURCE_REWOUND. A snapshot may
 * only name entities this source replicates (OPLOG_UNKNOWN_ENTITY). Without one, the log must still reach back to
 * the cursor (OPLOG_HISTORY_TRIMMED). A cursor of another incarnation (or none) means a snapshot, whatever the log.
 */
export function checkWelcome(welcome: Welcome, log: ProducerLog): OplogError | undefined {
  const { cursor, snapshot } = welcome;
  const sameHistory = welcome.incarnation === log.incarnation;
  if (sameHistory && !continuesCursor(cursor, { seq: log.headSeq }, log.txIdAtCursor)) {
    return OplogError.sourceDiverged(cursor.seq);
  }
  if (snapshot) {
    const unknown = snapshot.entities.find((entity) => !Object.hasOwn(log.schema, entity));
    return unknown === undefined ? undefined : OplogError.unknownEntity(unknown);
  }
  if (sameHistory && log.oldest !== undefined && cursor.seq + 1 < log.oldest) {
    return OplogError.historyTrimmed(cursor.seq, log.oldest);
  }
  return undefined;
}
