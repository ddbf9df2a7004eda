import { setTimeout as sleep } from 'node:timers/promises';
import { admitBatch, advanceCursor, type Cursor, type OplogEntry, OplogError, type Position } from '@oplog/protocol';
import { RateLimit } from './rate-limit.js';

/** What a session needs to hear back from the apply loop. */
export interface BatchOwner {
  readonly incarnation: string;
  ack(frameId: number, seq: number): void;
  fail(error: OplogError): void;
}

interface PendingBatch {
  owner: BatchOwner;
  frameId: number;
  entries: OplogEntry[];
}

/** Commits `entries` and the cursor that follows them in one transaction. */
export type CommitFn = (source: string, entries: OplogEntry[], cursor: Cursor, head: Position) => Promise<void>;

/** Limits on what one source may send, enforced before anything of a batch is applied. */
export interface SourceLimits {
  /** A batch frame with more entries is refused with OPLOG_BATCH_TOO_BIG. */
  maxBatchEntries: number;
  /** Entries applied per second at most (undefined: no limit); beyond it the apply waits, and so do the acks. */
  maxEntriesPerSecond?: number;
}

/** Entries applied together when batches queue up: group commit, to catch up a backlog faster. */
const GROUP_ENTRIES = 5000;

/**
 * One source's replication state on the consumer, shared by its successive sessions. Batches are applied one
 * group at a time, so two sessions of the same source can never apply concurrently, and every ack follows the
 * commit that made it true.
 */
export class SourceState {
  /** Durable: what is committed (or, for a new incarnation, where it starts). */
  cursor: Cursor;
  /** The producer's head as last heard (hello or heartbeat). */
  head: Position;
  session: BatchOwner | undefined;
  lastSeenAt: number | undefined;
  lastError: { code: string; message: string; at: number } | undefined;
  appliedEntries = 0;
  #queue: PendingBatch[] = [];
  #working: Promise<void> | undefined;
  readonly #rate: RateLimit | undefined;

  constructor(
    readonly id: string,
    cursor: Cursor,
    head: Position,
    private readonly commit: CommitFn,
    private readonly limits: SourceLimits = { maxBatchEntries: Number.POSITIVE_INFINITY },
  ) {
    this.cursor = cursor;
    this.head = head;
    this.#rate = limits.maxEntriesPerSecond === undefined ? undefined : new RateLimit(limits.maxEntriesPerSecond);
  }

  enqueue(owner: BatchOwner, frameId: number, entries: OplogEntry[]): void {
    const { maxBatchEntries } = this.limits;
    if (entries.length > maxBatchEntries) {
      this.#refuse(owner, OplogError.batchTooBig(entries.length, maxBatchEntries));
      return;
    }
    this.#queue.push({ owner, frameId, entries });
    this.#working ??= this.#work().finally(() => (this.#working = undefined));
  }

  /** Resolves when nothing is being applied. */
  async idle(): Promise<void> {
    while (this.#working) await this.#working;
  }

  /** Drops the queued batches of a session that is gone; its producer will resend them from the cursor. */
  forget(owner: BatchOwner): void {
    this.#queue = this.#queue.filter((batch) => batch.owner !== owner);
  }

  async #work(): Promise<void> {
    while (this.#queue.length > 0) {
      const group = this.#takeGroup();
      const owner = group[0]!.owner;
      let cursor = this.cursor;
      const fresh: OplogEntry[] = [];
      const acks: [frameId: number, seq: number][] = [];
      try {
        for (const batch of group) {
          const admitted = admitBatch(cursor, { source: this.id, incarnation: owner.incarnation }, batch.entries);
          cursor = advanceCursor(cursor, owner.incarnation, admitted);
          fresh.push(...admitted);
          acks.push([batch.frameId, cursor.seq]);
        }
        if (fresh.length > 0) {
          const wait = this.#rate?.take(fresh.length) ?? 0;
          if (wait > 0) await sleep(wait);
          await this.commit(this.id, fresh, cursor, this.head).catch((error: unknown) => {
            throw error instanceof OplogError ? error : OplogError.applyFailed(error);
          });
          this.cursor = cursor;
          this.appliedEntries += fresh.length;
        }
      } catch (error) {
        this.#refuse(owner, error instanceof OplogError ? error : OplogError.internal(error));
        continue;
      }
      for (const [frameId, seq] of acks) owner.ack(frameId, seq);
    }
  }

  #refuse(owner: BatchOwner, failure: OplogError): void {
    this.lastError = { code: failure.code, message: failure.message, at: Date.now() };
    this.forget(owner);
    owner.fail(failure);
  }

  /** Consecutive batches of the same session, up to GROUP_ENTRIES entries (always at least one batch). */
  #takeGroup(): PendingBatch[] {
    const first = this.#queue.shift()!;
    const group = [first];
    let size = first.entries.length;
    while (this.#queue[0]?.owner === first.owner && size + this.#queue[0].entries.length <= GROUP_ENTRIES) {
      const next = this.#queue.shift()!;
      group.push(next);
      size += next.entries.length;
    }
    return group;
  }
}
