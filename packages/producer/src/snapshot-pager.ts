import { encodeFrame, type Json, type OutgoingFrame, type SnapshotRequest } from '@oplog/protocol';
import type { SnapshotReader } from './snapshot-reader.js';

/** One page on its way: its frame, its rows, and how many rows are left after it. */
export interface PageOut {
  frame: OutgoingFrame;
  rows: number;
  remaining: number;
}

/**
 * A snapshot the consumer asked for, as far as this session has sent it: each entity in turn, one keyset page per
 * frame, in primary key order, resuming after the key the request gives. `remaining` counts the rows still to send,
 * for progress only.
 */
export class SnapshotPager {
  readonly #reader: SnapshotReader;
  readonly #entities: readonly string[];
  #index = 0;
  #after: Record<string, Json> | null;
  #remaining: number;

  private constructor(
    reader: SnapshotReader,
    entities: readonly string[],
    after: Record<string, Json> | null,
    rows: number,
  ) {
    this.#reader = reader;
    this.#entities = entities;
    this.#after = after;
    this.#remaining = rows;
  }

  /** Counts the rows the request asks for, and starts at its first entity. */
  static async start(reader: SnapshotReader, request: SnapshotRequest): Promise<SnapshotPager> {
    const after = request.resume?.after ?? null;
    const rows = await reader.count(request.entities, after);
    return new SnapshotPager(reader, [...request.entities], after, rows);
  }

  get remaining(): number {
    return this.#remaining;
  }

  /** The last entity's last page was read: the log follows. */
  get finished(): boolean {
    return this.#index === this.#entities.length;
  }

  /**
   * Reads the next page, of at most `limit` rows; a shorter page ends its entity. Acked like a batch, it must reach
   * `lastSeq`, the seq sent last (a page moves no seq).
   */
  async next(limit: number, lastSeq: number): Promise<PageOut> {
    const entity = this.#entities[this.#index]!;
    const page = await this.#reader.page(entity, this.#after, limit);
    const done = page.rows.length < limit;
    // Rows written since the count make a page larger than what was left: never report fewer than it holds.
    const remaining = Math.max(this.#remaining, page.rows.length);
    this.#remaining = remaining - page.rows.length;
    this.#after = done ? null : page.after;
    if (done) this.#index++;
    const head = { seq: page.head.seq, epoch: page.head.epoch };
    const { rows, after } = page;
    return {
      frame: {
        lastSeq,
        encode: (id) => encodeFrame({ type: 'snapshot', id, entity, rows, after, head, remaining, done }),
      },
      rows: rows.length,
      remaining: this.#remaining,
    };
  }
}
