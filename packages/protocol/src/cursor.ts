import type { OplogEntry } from './entry.js';
import { OplogError } from './errors.js';

/** What a consumer has durably applied for one source. */
export interface Cursor {
  incarnation: string | null;
  seq: number;
  epoch: number;
  /** The transaction of the entry at `seq`, so a producer can tell that its log still continues it (null: unknown). */
  txId: string | null;
}

/**
 * Decides which entries of a batch are new for this cursor. Entries at or below the cursor were applied
 * before (a resend after a lost ack) and are dropped; the rest must continue the cursor with no gap.
 * Throws OPLOG_FOREIGN_ENTRY or OPLOG_SEQ_GAP; never returns a partial answer.
 */
export function admitBatch(
  cursor: Cursor,
  session: { source: string; incarnation: string },
  entries: readonly OplogEntry[],
): OplogEntry[] {
  let expected = cursor.seq + 1;
  const fresh: OplogEntry[] = [];
  for (const entry of entries) {
    if (entry.source !== session.source || entry.incarnation !== session.incarnation) {
      throw OplogError.foreignEntry(entry.seq);
    }
    if (entry.seq <= cursor.seq && fresh.length === 0) continue;
    if (entry.seq !== expected) throw OplogError.seqGap(expected, entry.seq);
    fresh.push(entry);
    expected++;
  }
  return fresh;
}

/** The cursor after applying `entries` (already admitted, so in order and gapless). */
export function advanceCursor(cursor: Cursor, incarnation: string, entries: readonly OplogEntry[]): Cursor {
  const last = entries.at(-1);
  if (!last) return cursor;
  return { incarnation, seq: last.seq, epoch: Math.max(cursor.epoch, last.epoch), txId: last.txId };
}

/**
 * The seq up to which a producer may trim its outbox once `ackedSeq` is acked. The last acked entry always stays: its
 * transaction is what shows, at the next welcome or in a snapshot's cursor (hello.headTxId), that the log still
 * continues what the consumer applied and is not a history restored from a backup.
 */
export function trimPoint(ackedSeq: number, retainAcked: number): number {
  return ackedSeq - Math.max(1, retainAcked);
}

/**
 * Whether the source's log continues what the consumer applied (checked by the producer on welcome). A source
 * restored from a backup has the same incarnation but another history: its head is behind the cursor, or the
 * entry at the cursor's seq belongs to another transaction. Only a proof counts: when the cursor does not know its
 * transaction (a snapshot cursor from before protocol 3), or that entry is gone while later ones exist, the answer is
 * no, and the source is resnapshotted once. Trimming keeps the last acked entry (see trimPoint), so a source and
 * center that were never restored always have the proof. One absence is a proof too: the head's own entry gone with
 * nothing after it (an outbox emptied by a producer of protocol 2) can only have been trimmed after an ack of this
 * history, since a restored one would still hold the unacked entries it wrote up to there; without that rule, such an
 * idle source would be resnapshotted at every connect.
 */
export function continuesCursor(
  cursor: Pick<Cursor, 'seq' | 'txId'>,
  head: { seq: number },
  txIdAtCursor: string | undefined,
): boolean {
  if (cursor.seq > head.seq) return false;
  if (cursor.seq === 0) return true;
  if (txIdAtCursor === undefined) return cursor.seq === head.seq;
  return cursor.txId !== null && txIdAtCursor === cursor.txId;
}
