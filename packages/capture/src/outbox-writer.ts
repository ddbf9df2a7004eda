import type { Connection, Transaction } from '@mikro-orm/core';
import { nanoid } from 'nanoid';
import { OUTBOX_TABLES } from './outbox-schema.js';
import { onPostgres } from './platform.js';

/** A change captured in a transaction, before it gets its seq. */
export interface PendingChange {
  entity: string;
  op: 'insert' | 'update' | 'delete';
  pk: string;
  after: string | null;
  changed: string | null;
}

export interface SourceHead {
  sourceId: string;
  incarnation: string;
  seq: number;
  epoch: number;
}

const ROWS_PER_INSERT = 500;
const { source: SOURCE, entry: ENTRY } = OUTBOX_TABLES;

// The counter row is locked by this UPDATE until the transaction ends, so a second writer waits here and gets
// the next seqs only after this transaction commits (or rolls back, which also rolls the counter back).
// Seqs are therefore gapless and in commit order, even with concurrent writers on PostgreSQL.
const ALLOCATE = `update ${SOURCE} set head_seq = head_seq + ?, head_epoch = case when head_epoch > ? then head_epoch else ? end where slot = 1 returning source_id, incarnation, head_seq, head_epoch`;
const CREATE_SOURCE = `insert into ${SOURCE} (slot, source_id, incarnation, head_seq, head_epoch, created_at) values (1, ?, ?, 0, 0, ?) on conflict (slot) do nothing`;

interface SourceRow {
  source_id: string;
  incarnation: string;
  head_seq: number | string;
  head_epoch: number | string;
}

/** Creates the source identity once: a source id and an incarnation id, stored in the local database. */
export async function ensureSource(connection: Connection, trx?: Transaction): Promise<void> {
  await connection.execute(CREATE_SOURCE, [nanoid(), nanoid(), Date.now()], 'run', trx);
}

/**
 * Gives the source a new incarnation: its producer found that the log no longer continues what the consumer
 * applied (the database was restored from a backup), so the consumer must resnapshot it instead of taking the
 * reused seqs for changes it already has.
 */
export async function renewIncarnation(connection: Connection): Promise<string> {
  const incarnation = nanoid();
  await connection.execute(`update ${SOURCE} set incarnation = ? where slot = 1`, [incarnation], 'run');
  return incarnation;
}

export async function readSourceHead(connection: Connection, trx?: Transaction): Promise<SourceHead | undefined> {
  const rows = await connection.execute<SourceRow[]>(
    `select source_id, incarnation, head_seq, head_epoch from ${SOURCE} where slot = 1`,
    [],
    'all',
    trx,
  );
  return rows[0] && toHead(rows[0]);
}

/** Allocates seqs for `changes` and inserts them, inside `trx`. Returns the new head. */
export async function appendToOutbox(
  connection: Connection,
  trx: Transaction,
  txId: string,
  changes: readonly PendingChange[],
): Promise<SourceHead> {
  const now = Date.now();
  if (changes.length <= ROWS_PER_INSERT && allocatesInline(connection)) {
    const head = await allocateAndInsert(connection, trx, txId, changes, now);
    if (head) return head;
    await ensureSource(connection, trx);
    return (await allocateAndInsert(connection, trx, txId, changes, now))!;
  }
  let rows = await connection.execute<SourceRow[]>(ALLOCATE, [changes.length, now, now], 'all', trx);
  if (!rows[0]) {
    await ensureSource(connection, trx);
    rows = await connection.execute<SourceRow[]>(ALLOCATE, [changes.length, now, now], 'all', trx);
  }
  const head = toHead(rows[0] as SourceRow);
  let seq = head.seq - changes.length;
  for (let start = 0; start < changes.length; start += ROWS_PER_INSERT) {
    const chunk = changes.slice(start, start + ROWS_PER_INSERT);
    const params: unknown[] = [];
    for (const change of chunk) {
      params.push(++seq, txId, head.epoch, change.entity, change.op, change.pk, change.after, change.changed);
    }
    const values = chunk.map(() => '(?, ?, ?, ?, ?, ?, ?, ?)').join(', ');
    await connection.execute(
      `insert into ${ENTRY} (seq, tx_id, epoch, entity, op, pk, after_image, changed) values ${values}`,
      params,
      'run',
      trx,
    );
  }
  return head;
}

/** PostgreSQL runs an UPDATE inside WITH, so there the allocation and the insert take one round trip. */
function allocatesInline(connection: Connection): boolean {
  return onPostgres(connection.getPlatform());
}

/**
 * The same UPDATE of the counter row (taking the same lock) and the insert, as one statement. Returns undefined,
 * having inserted nothing, when the counter row does not exist yet.
 */
async function allocateAndInsert(
  connection: Connection,
  trx: Transaction,
  txId: string,
  changes: readonly PendingChange[],
  now: number,
): Promise<SourceHead | undefined> {
  const params: unknown[] = [changes.length, now, changes.length, txId];
  const values: string[] = [];
  changes.forEach((change, i) => {
    values.push(`(${i + 1}, ?, ?, ?, ?, ?)`);
    params.push(change.entity, change.op, change.pk, change.after, change.changed);
  });
  const sql = `with head as (update ${SOURCE} set head_seq = head_seq + ?, head_epoch = greatest(head_epoch, ?) where slot = 1 returning source_id, incarnation, head_seq, head_epoch), entries as (insert into ${ENTRY} (seq, tx_id, epoch, entity, op, pk, after_image, changed) select head.head_seq - ? + v.ord, ?, head.head_epoch, v.entity, v.op, v.pk, v.after_image, v.changed from head cross join (values ${values.join(', ')}) as v (ord, entity, op, pk, after_image, changed)) select source_id, incarnation, head_seq, head_epoch from head`;
  const rows = await connection.execute<SourceRow[]>(sql, params, 'all', trx);
  return rows[0] && toHead(rows[0]);
}

function toHead(row: SourceRow): SourceHead {
  return {
    sourceId: row.source_id,
    incarnation: row.incarnation,
    seq: Number(row.head_seq),
    epoch: Number(row.head_epoch),
  };
}
