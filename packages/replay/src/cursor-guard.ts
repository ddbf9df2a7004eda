import type { Connection, Transaction } from '@mikro-orm/core';
import { type Cursor, OplogError, type Position, type SourceRecord } from '@oplog/protocol';
import { cursorStatement, loadSource, NO_RECORD } from './cursor-store.js';
import type { SqlStatement } from './sql-script.js';

/**
 * Every cursor write is a compare-and-set on the row's version: a consumer writes a source's cursor only over the
 * version it last read or wrote itself. So a consumer that was paused (or lost its center lock without noticing
 * yet) and wakes up late cannot move a cursor backwards or commit a step over a newer one: its write fails, and
 * the step's transaction with it. Independent of the center lock, which keeps a second consumer from starting.
 *
 * The versions a source's next write expects are kept here, by source, so the apply loop never sees them: `load`
 * sets it from the database, each write that commits moves it on, and a failed one leaves it until the next load.
 * Steps of one source run one at a time (SourceReplay), so there is one expected version per source.
 */
export class CursorGuard {
  /** source → the version its cursor row had when this consumer last read or wrote it; null: no row. */
  readonly #expected = new Map<string, number | null>();

  constructor(private readonly connection: () => Connection) {}

  /** The source's durable record, read afresh (the blank record when it has none); later writes build on it. */
  async load(source: string): Promise<SourceRecord> {
    const found = await loadSource(this.connection(), source);
    this.#expected.set(source, found?.version ?? null);
    return found?.stored ?? NO_RECORD;
  }

  /** The guarded cursor statement for a step's transaction (see cursorStatement). */
  statement(source: string, cursor: Cursor, covered: readonly string[], head: Position): SqlStatement {
    return cursorStatement(source, cursor, covered, head, this.#expectedOf(source));
  }

  async save(
    connection: Connection,
    trx: Transaction,
    source: string,
    cursor: Cursor,
    covered: readonly string[],
    head: Position,
  ): Promise<void> {
    const { sql, params } = this.statement(source, cursor, covered, head);
    await connection.execute(sql, params, 'run', trx);
  }

  /**
   * Runs one transaction that writes `source`'s cursor through this guard. When it fails and the row's version is
   * no longer the one expected, another consumer wrote it: OPLOG_CURSOR_CONFLICT, whatever the database said (a
   * step refused by the guard is not poison, and a stale view makes any other diagnosis moot).
   */
  async write<T>(source: string, work: () => Promise<T>): Promise<T> {
    const expected = this.#expectedOf(source);
    try {
      const result = await work();
      this.#expected.set(source, (expected ?? 0) + 1);
      return result;
    } catch (error) {
      if (await this.#moved(source, expected)) throw OplogError.cursorConflict(source, error);
      throw error;
    }
  }

  /** A source never loaded expects no row: if it has one, its first write fails and its next session loads it. */
  #expectedOf(source: string): number | null {
    return this.#expected.get(source) ?? null;
  }

  async #moved(source: string, expected: number | null): Promise<boolean> {
    try {
      const found = await loadSource(this.connection(), source);
      return (found?.version ?? null) !== expected;
    } catch {
      // The database cannot be read either: the original error says more.
      return false;
    }
  }
}
