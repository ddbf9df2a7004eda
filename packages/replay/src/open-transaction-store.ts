import type { Connection, Transaction } from '@mikro-orm/core';
import type { AbstractSqlConnection, Knex } from '@mikro-orm/knex';
import type { OplogEntry, OplogError } from '@oplog/protocol';
import { quarantine } from './quarantine.js';
import { TABLES } from './tables.js';

const TABLE = TABLES.openEntry;

/** Parts staged by a step: of the transaction that begins at seq `from`, and continues after the step. */
export interface StagedParts {
  from: number;
  entries: readonly OplogEntry[];
}

// Three parameters a row: far below SQLite's and PostgreSQL's limits on bound parameters.
const CHUNK = 500;
/** Staged entries read (and applied) at once when their transaction completes. */
export const OPEN_PAGE = 1000;

/**
 * Stages `parts` inside `trx`. Rows of the source outside the open transaction's durable range (before `from`, or
 * from the first new part on) are left from a session that died in the middle of a transaction, whose producer then
 * resent it from the cursor: they go first. The entries go as bound parameters: MikroORM's execute inlines values,
 * and pg's escapeLiteral builds each string a character at a time, which made staging a million entries take minutes
 * and 200 MB.
 */
export async function stageParts(
  connection: Connection,
  trx: Transaction,
  source: string,
  parts: StagedParts,
): Promise<void> {
  const knex = (connection as AbstractSqlConnection).getKnex();
  const run = (sql: string, params: unknown[]) =>
    knex.raw(sql, params as Knex.RawBinding[]).transacting(trx as Knex.Transaction);
  // Two ranges of the primary key, not one OR: PostgreSQL would scan every staged row of the source at each step.
  await run(`delete from ${TABLE} where source = ? and seq < ?`, [source, parts.from]);
  await run(`delete from ${TABLE} where source = ? and seq >= ?`, [source, parts.entries[0]!.seq]);
  for (let i = 0; i < parts.entries.length; i += CHUNK) {
    const chunk = parts.entries.slice(i, i + CHUNK);
    await run(
      `insert into ${TABLE} (source, seq, entry) values ${chunk.map(() => '(?, ?, ?)').join(', ')}`,
      chunk.flatMap((entry) => [source, entry.seq, JSON.stringify(entry)]),
    );
  }
}

/** The staged entries of a source's open transaction (from seq `from` on), a page at a time, in seq order. */
export async function* stagedPages(
  connection: Connection,
  trx: Transaction | undefined,
  source: string,
  from: number,
): AsyncGenerator<OplogEntry[]> {
  let after = from - 1;
  for (;;) {
    const rows: { seq: number | string; entry: string }[] = await connection.execute(
      `select seq, entry from ${TABLE} where source = ? and seq > ? order by seq limit ?`,
      [source, after, OPEN_PAGE],
      'all',
      trx,
    );
    if (rows.length === 0) return;
    yield rows.map((row) => JSON.parse(row.entry) as OplogEntry);
    after = Number(rows.at(-1)!.seq);
  }
}

/** Empties a source's staging, once its transaction is applied (or parked). */
export async function clearStaged(connection: Connection, trx: Transaction, source: string): Promise<void> {
  await connection.execute(`delete from ${TABLE} where source = ?`, [source], 'run', trx);
}

/** Parks the staged entries of a poison transaction with the rest of it (poison: quarantine), and empties the staging. */
export async function quarantineStaged(
  connection: Connection,
  trx: Transaction,
  source: string,
  from: number,
  error: OplogError,
): Promise<void> {
  for await (const page of stagedPages(connection, trx, source, from)) {
    await quarantine(connection, trx, source, page, error);
  }
  await clearStaged(connection, trx, source);
}
