import { admitBatch, advanceCursor, type Cursor, type OplogEntry } from '@oplog/protocol';
import type { StagedParts } from './open-transaction-store.js';

/** A source transaction received in parts whose last part has not come yet: its parts so far are staged durably. */
export interface OpenTransaction {
  /** The seq of its first entry. */
  from: number;
  /** Entries staged so far. */
  count: number;
  /** The size of the frames they came in (for metrics). */
  bytes: number;
  /** The cursor after them: where its next part continues. */
  cursor: Cursor;
}

/** A batch frame as queued: `partial` when its transaction continues in the next one. */
export interface QueuedBatch {
  frameId: number;
  entries: readonly OplogEntry[];
  partial: boolean;
  bytes: number;
}

/** What a group of batches does to a source, and what stays open after it. */
export interface LogStep {
  /** Entries of complete transactions, to apply now. */
  entries: OplogEntry[];
  bytes: number;
  /** The cursor after `entries`: what the step makes durable, and what every ack of the group carries. */
  cursor: Cursor;
  /** The transaction open before the group, if the group completes it: its staged parts apply before `entries`. */
  staged: { from: number; count: number } | undefined;
  /** The parts of a transaction the group leaves open, to stage with the step. */
  stage: StagedParts | undefined;
  open: OpenTransaction | undefined;
}

/**
 * Admits a group of one session's batches after the durable cursor (and after the parts of `open`, staged already),
 * and splits them into what is applied now and what is staged, whole transactions only ever applied. Pushes one ack
 * per batch onto `acks`: the seq durable once the step commits, however far the batch reached. Throws OPLOG_SEQ_GAP or
 * OPLOG_FOREIGN_ENTRY (see admitBatch) for a group that must be refused.
 */
export function logStep(
  durable: Cursor,
  open: OpenTransaction | undefined,
  session: { source: string; incarnation: string },
  batches: readonly QueuedBatch[],
  acks: [frameId: number, seq: number][],
): LogStep {
  let cursor = open?.cursor ?? durable;
  let staged = open && { from: open.from, count: open.count };
  let pendingBytes = open?.bytes ?? 0;
  let pending: OplogEntry[] = [];
  let complete = durable;
  let completed: LogStep['staged'];
  const entries: OplogEntry[] = [];
  let bytes = 0;
  for (const batch of batches) {
    const admitted = admitBatch(cursor, session, batch.entries);
    cursor = advanceCursor(cursor, session.incarnation, admitted);
    for (const entry of admitted) pending.push(entry);
    pendingBytes += batch.bytes;
    if (!batch.partial) {
      completed ??= staged;
      staged = undefined;
      for (const entry of pending) entries.push(entry);
      bytes += pendingBytes;
      pending = [];
      pendingBytes = 0;
      complete = cursor;
    }
    acks.push([batch.frameId, complete.seq]);
  }
  const from = staged?.from ?? pending[0]?.seq;
  const left = from === undefined ? undefined : { from, count: (staged?.count ?? 0) + pending.length };
  return {
    entries,
    bytes,
    cursor: complete,
    staged: completed,
    stage: pending.length > 0 ? { from: from!, entries: pending } : undefined,
    open: left && { ...left, bytes: pendingBytes, cursor },
  };
}
