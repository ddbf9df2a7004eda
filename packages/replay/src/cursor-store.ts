import type { Connection } from '@mikro-orm/core';
import type { Cursor, Position, SourceRecord } from '@oplog/protocol';
import { loadSnapshots, type StoredSnapshot } from './snapshot-store.js';
import type { SqlStatement } from './sql-script.js';
import { TABLES } from './tables.js';

const TABLE = TABLES.cursor;

/** What the consumer durably knows of a source, and the head it last heard. */
export interface StoredSource extends SourceRecord {
  head: Position;
  updatedAt: number;
}

interface Row {
  source: string;
  incarnation: string;
  seq: number | string;
  epoch: number | string;
  tx_id: string | null;
  entities: string;
  head_seq: number | string;
  head_epoch: number | string;
  updated_at: number | string;
  version: number | string;
}

/** What the consumer knows of a source it has never stored anything of. */
export const NO_RECORD: SourceRecord = {
  cursor: { incarnation: null, seq: 0, epoch: 0, txId: null },
  covered: [],
  snapshot: undefined,
};

export async function loadSources(connection: Connection): Promise<Map<string, StoredSource>> {
  const rows = await connection.execute<Row[]>(`select * from ${TABLE}`);
  const snapshots = await loadSnapshots(connection);
  return new Map(rows.map((row: Row) => [row.source, toStored(row, snapshots)]));
}

/** One source's record and the version of its cursor row, read afresh; undefined when it has no row. */
export async function loadSource(
  connection: Connection,
  source: string,
): Promise<{ stored: StoredSource; version: number } | undefined> {
  const [row] = await connection.execute<Row[]>(`select * from ${TABLE} where source = ?`, [source]);
  if (!row) return undefined;
  return { stored: toStored(row, await loadSnapshots(connection, source)), version: Number(row.version) };
}

function toStored(row: Row, snapshots: Map<string, StoredSnapshot>): StoredSource {
  return {
    cursor: { incarnation: row.incarnation, seq: Number(row.seq), epoch: Number(row.epoch), txId: row.tx_id },
    covered: JSON.parse(row.entities) as string[],
    snapshot: snapshots.get(row.source),
    head: { seq: Number(row.head_seq), epoch: Number(row.head_epoch) },
    updatedAt: Number(row.updated_at),
  };
}

/**
 * The statement that stores a source's cursor, what it covers and its head, if the row is still at version
 * `expected` (null: no row yet). Otherwise it sets the version to null, which NOT NULL refuses: the statement, and
 * the step's transaction with it, fails without anyone reading a result, so it can close a one-script step.
 * (`= null` is never true: a writer that expects no row fails on any row.)
 */
export function cursorStatement(
  source: string,
  cursor: Cursor,
  covered: readonly string[],
  head: Position,
  expected: number | null,
  now = Date.now(),
): SqlStatement {
  return {
    sql: `insert into ${TABLE} (source, incarnation, seq, epoch, tx_id, entities, head_seq, head_epoch, updated_at, version) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
     on conflict (source) do update set incarnation = excluded.incarnation, seq = excluded.seq, epoch = excluded.epoch,
       tx_id = excluded.tx_id, entities = excluded.entities, head_seq = excluded.head_seq, head_epoch = excluded.head_epoch,
       updated_at = excluded.updated_at,
       version = case when ${TABLE}.version = ? then excluded.version else null end`,
    params: [
      source,
      cursor.incarnation,
      cursor.seq,
      cursor.epoch,
      cursor.txId,
      JSON.stringify(covered),
      head.seq,
      head.epoch,
      now,
      (expected ?? 0) + 1,
      expected,
    ],
  };
}
