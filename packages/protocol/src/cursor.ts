import type { OplogEntry } from './entry.js';
import { OplogError } from './errors.js';

/** What a consumer has durably applied for one source. */
export interface Cursor {
  incarnation: string | null;
  seq: number;
  epoch: number;
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
  return { incarnation, seq: last.seq, epoch: Math.max(cursor.epoch, last.epoch) };
}
