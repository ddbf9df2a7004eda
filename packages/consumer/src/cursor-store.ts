import { type Connection, EntitySchema, type Transaction } from '@mikro-orm/core';
import type { Cursor, Position, SourceRecord } from '@oplog/protocol';
import type { SqlStatement } from './sql-script.js';
import { OplogSourceCredential } from './credential-store.js';
import { OplogLagSample } from './lag-history.js';
import { OplogQuarantine } from './quarantine.js';
import { OplogRowOwner } from './row-owner.js';
import { loadSnapshots, OplogSnapshotRow, OplogSnapshotState } from './snapshot-store.js';

/** One row per source: what is durably applied, committed in the same transaction as the data. */
export interface OplogCursorRow {
  source: string;
  incarnation: string;
  seq: number;
  epoch: number;
  txId: string | null;
  /** JSON list of the entities whose rows are complete here (see SourceRecord.covered). */
  entities: string;
  headSeq: number;
  headEpoch: number;
  updatedAt: number;
}

const TABLE = 'oplog_consumer_cursor';

export const OplogCursor = new EntitySchema<OplogCursorRow>({
  name: 'OplogCursor',
  tableName: TABLE,
  properties: {
    source: { type: 'string', length: 64, primary: true },
    incarnation: { type: 'string', length: 64 },
    seq: { type: 'bigint' },
    epoch: { type: 'bigint' },
    txId: { type: 'string', length: 64, fieldName: 'tx_id', nullable: true },
    entities: { type: 'text', default: '[]' },
    headSeq: { type: 'bigint', fieldName: 'head_seq' },
    headEpoch: { type: 'bigint', fieldName: 'head_epoch' },
    updatedAt: { type: 'bigint', fieldName: 'updated_at' },
  },
});

/** The consumer's own tables; add them to the consumer's ORM entities (the consumer never captures). */
export const consumerEntities = [
  OplogCursor,
  OplogLagSample,
  OplogRowOwner,
  OplogSnapshotState,
  OplogSnapshotRow,
  OplogSourceCredential,
  OplogQuarantine,
];

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
}

export async function loadSources(connection: Connection): Promise<Map<string, StoredSource>> {
  const rows = await connection.execute<Row[]>(`select * from ${TABLE}`);
  const snapshots = await loadSnapshots(connection);
  return new Map(
    rows.map((row: Row) => [
      row.source,
      {
        cursor: {
          incarnation: row.incarnation,
          seq: Number(row.seq),
          epoch: Number(row.epoch),
          txId: row.tx_id,
        },
        covered: JSON.parse(row.entities) as string[],
        snapshot: snapshots.get(row.source),
        head: { seq: Number(row.head_seq), epoch: Number(row.head_epoch) },
        updatedAt: Number(row.updated_at),
      },
    ]),
  );
}

export async function saveCursor(
  connection: Connection,
  trx: Transaction,
  source: string,
  cursor: Cursor,
  covered: readonly string[],
  head: Position,
): Promise<void> {
  const { sql, params } = cursorStatement(source, cursor, covered, head);
  await connection.execute(sql, params, 'run', trx);
}

/** The statement that stores a source's cursor, what it covers and its head. */
export function cursorStatement(
  source: string,
  cursor: Cursor,
  covered: readonly string[],
  head: Position,
  now = Date.now(),
): SqlStatement {
  return {
    sql: `insert into ${TABLE} (source, incarnation, seq, epoch, tx_id, entities, head_seq, head_epoch, updated_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?)
     on conflict (source) do update set incarnation = excluded.incarnation, seq = excluded.seq, epoch = excluded.epoch,
       tx_id = excluded.tx_id, entities = excluded.entities, head_seq = excluded.head_seq, head_epoch = excluded.head_epoch,
       updated_at = excluded.updated_at`,
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
    ],
  };
}
