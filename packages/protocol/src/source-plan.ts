import type { Cursor } from './cursor.js';
import type { Json } from './entry.js';
import { OplogError } from './errors.js';
import type { Hello, SnapshotPage, SnapshotRequest } from './frames.js';

/** Why a source is (re)snapshotted; shown on the dashboard and logged. */
export type SnapshotReason = 'new-source' | 'new-incarnation' | 'history-trimmed' | 'new-entities';

/** A snapshot in progress, as the consumer stores it (durably, with every page). */
export interface SnapshotProgress {
  incarnation: string;
  reason: SnapshotReason;
  /** The entities being snapshotted, in the order their pages come. */
  entities: string[];
  /** How many of `entities` are complete. */
  done: number;
  /** The primary key the current entity continues after (null: from its start). */
  after: Record<string, Json> | null;
  /** The highest outbox head any page was read at: once the cursor passes it, the rows are consistent. */
  highWater: number;
  rows: number;
  total: number;
}

/** What the consumer durably knows of a source. */
export interface SourceRecord {
  cursor: Cursor;
  /** Entities whose rows are complete on the consumer (snapshotted, then streamed). */
  covered: readonly string[];
  snapshot: SnapshotProgress | undefined;
}

export type SessionPlan =
  | { kind: 'stream' }
  | {
      kind: 'snapshot';
      fresh: boolean;
      reason: SnapshotReason;
      request: SnapshotRequest;
      /**
       * Where the log continues once the rows are in. A whole snapshot's is the hello's head with its transaction, so
       * that a later session still tells this history from a restored one (see continuesCursor).
       */
      cursor: Cursor;
    }
  | { kind: 'refuse'; error: OplogError };

/**
 * Decides, from the consumer's durable record and a producer's hello, how the session starts. `entities` are the
 * entities both sides replicate, in the consumer's apply order (parents first). A snapshot is needed when the
 * consumer has nothing of this source, when the source is another incarnation (outbox recreated, or a restore
 * detected by its producer), when its outbox no longer reaches back to the cursor, or for entities it never had.
 * An interrupted snapshot of the same incarnation resumes where its last durable page ended.
 */
export function planSession(
  record: SourceRecord,
  hello: Pick<Hello, 'incarnation' | 'head' | 'oldest' | 'headTxId'>,
  entities: readonly string[],
): SessionPlan {
  const { cursor, snapshot } = record;
  if (cursor.incarnation === hello.incarnation && hello.head.seq < cursor.seq) {
    return { kind: 'refuse', error: OplogError.sourceRewound(hello.head.seq, cursor.seq) };
  }
  if (snapshot && snapshot.incarnation === hello.incarnation) {
    const remaining = snapshot.entities.slice(snapshot.done);
    // Every page is in; the log has yet to pass the newest page's head: stream it, the staging goes on.
    if (remaining.length === 0) return { kind: 'stream' };
    const resume = snapshot.after && remaining[0] ? { entity: remaining[0], after: snapshot.after } : null;
    return {
      kind: 'snapshot',
      fresh: false,
      reason: snapshot.reason,
      request: { entities: remaining, resume },
      cursor,
    };
  }
  const everything = (reason: SnapshotReason): SessionPlan => ({
    kind: 'snapshot',
    fresh: true,
    reason,
    request: { entities: [...entities], resume: null },
    cursor: {
      incarnation: hello.incarnation,
      seq: hello.head.seq,
      epoch: hello.head.epoch,
      txId: hello.headTxId ?? null,
    },
  });
  if (cursor.incarnation === null) return everything('new-source');
  if (cursor.incarnation !== hello.incarnation) return everything('new-incarnation');
  if (cursor.seq + 1 < hello.oldest) return everything('history-trimmed');
  const missing = entities.filter((entity) => !record.covered.includes(entity));
  if (missing.length > 0) {
    const request = { entities: missing, resume: null };
    return { kind: 'snapshot', fresh: true, reason: 'new-entities', request, cursor };
  }
  return { kind: 'stream' };
}

/** The progress after one more page; throws when the page is not the one expected next. */
export function advanceSnapshot(progress: SnapshotProgress, page: SnapshotPage): SnapshotProgress {
  const expected = progress.entities[progress.done];
  if (page.entity !== expected) {
    throw OplogError.badFrame(
      `snapshot page of ${page.entity}, expected ${expected ?? 'none (the snapshot is complete)'}`,
    );
  }
  if (page.rows.length > 0 && page.after === null) throw OplogError.badFrame('snapshot page without its last key');
  return {
    ...progress,
    done: progress.done + (page.done ? 1 : 0),
    after: page.done ? null : (page.after ?? progress.after),
    highWater: Math.max(progress.highWater, page.head.seq),
    rows: progress.rows + page.rows.length,
    total: progress.rows + Math.max(page.remaining, page.rows.length),
  };
}

/** Every page arrived and the log has caught up with the newest of them: the staged rows are a consistent state. */
export function snapshotReady(progress: SnapshotProgress, cursor: Pick<Cursor, 'seq'>): boolean {
  return progress.done === progress.entities.length && cursor.seq >= progress.highWater;
}
