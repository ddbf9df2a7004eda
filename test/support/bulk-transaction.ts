/**
 * One source transaction of many Question changes, written straight to the tables as capture writes it: the data
 * rows, one outbox entry per row under one txId and one epoch, the head moved. Transactions of 100k or 1M rows
 * built through ORM flushes would take minutes and gigabytes; `expectSameAsCapture` checks, on a few rows, that
 * what this writes is byte for byte what capture writes.
 */
import { randomBytes } from 'node:crypto';
import type { Connection, MikroORM, Transaction } from '@mikro-orm/core';
import { ensureSource, onPostgres } from '@oplog/capture';
import { Question } from '@oplog/demo/entities';

export type BulkOp = 'insert' | 'update' | 'delete';

const BASE_DATE = Date.parse('2024-05-01T12:00:00.000Z');
const CHUNK = 500;
const URL_ALPHABET = 'useandom-26T198340PX75pxJACKVERYMINDBUSHWOLF_GQZbfghjklqvwyzrict';

/** Question `i`'s id: a valid UUID, the same on every side and in every run. */
export function questionId(i: number): string {
  return `00000000-0000-4000-8000-${i.toString(16).padStart(12, '0')}`;
}

/** What question `i` holds once inserted (revision 0) and after each update. */
export function questionRow(i: number, revision: number): { id: string; questionText: string; pubDate: number } {
  const edits = revision > 0 ? ` (edit ${revision})` : '';
  return { id: questionId(i), questionText: `Question ${i}${edits}?`, pubDate: BASE_DATE + i };
}

/** The same 21-character id capture's nanoid() makes. */
function txIdLike(): string {
  let id = '';
  for (const byte of randomBytes(21)) id += URL_ALPHABET[byte & 63];
  return id;
}

/** Questions `first`..`last`, and what a transaction does to them: revision is the one an update writes. */
export interface BulkRange {
  first: number;
  last: number;
  op: BulkOp;
  revision?: number;
}

/**
 * Commits one transaction that applies `range.op` to questions first..last, data and outbox alike, unless
 * `captured` is false: then only the data rows are written (as before capture was installed). Returns the head.
 */
export async function writeQuestions(orm: MikroORM, range: BulkRange, captured = true): Promise<number> {
  const connection = orm.em.getConnection();
  const postgres = onPostgres(connection.getPlatform());
  const txId = txIdLike();
  let head = 0;
  await orm.em.transactional(async (em) => {
    const trx = em.getTransactionContext<Transaction>();
    const run = (sql: string, params: unknown[]) => connection.execute(sql, params, 'run', trx);
    let seq = 0;
    let epoch = 0;
    if (captured) {
      await ensureSource(connection, trx);
      const count = range.last - range.first + 1;
      const now = Date.now();
      const [row] = await connection.execute<{ head_seq: number | string; head_epoch: number | string }[]>(
        `update oplog_source set head_seq = head_seq + ?, head_epoch = case when head_epoch > ? then head_epoch else ? end
         where slot = 1 returning head_seq, head_epoch`,
        [count, now, now],
        'all',
        trx,
      );
      head = Number(row!.head_seq);
      epoch = Number(row!.head_epoch);
      seq = head - count;
    }
    for (let start = range.first; start <= range.last; start += CHUNK) {
      const end = Math.min(range.last, start + CHUNK - 1);
      const rows = [];
      for (let i = start; i <= end; i++) rows.push(questionRow(i, range.revision ?? 0));
      await writeData(run, postgres, range.op, rows);
      if (!captured) continue;
      const entries = rows.flatMap((q) => outboxRow(postgres, range.op, q, ++seq, txId, epoch));
      await run(
        `insert into oplog_entry (seq, tx_id, epoch, entity, op, pk, after_image, changed) values ${marks(rows.length, 8)}`,
        entries,
      );
    }
  });
  return head;
}

/**
 * A backlog of `changes` Question changes in transactions of `perTransaction` rows each, written as capture writes
 * them: 60 % inserts of new questions, then updates of the first of them (30 %), then deletes of the first of those
 * (10 %). A load of many small ORM transactions makes the same outbox at about a hundred times the CPU.
 */
export async function writeBacklog(orm: MikroORM, changes: number, perTransaction = 20): Promise<number> {
  const inserts = Math.ceil((changes * 0.6) / perTransaction) * perTransaction;
  const updates = Math.ceil((changes * 0.3) / perTransaction) * perTransaction;
  const counts: [BulkOp, number][] = [
    ['insert', inserts],
    ['update', updates],
    ['delete', Math.max(0, changes - inserts - updates)],
  ];
  let head = 0;
  for (const [op, count] of counts) {
    for (let first = 0; first < count; first += perTransaction) {
      const last = Math.min(count, first + perTransaction) - 1;
      head = await writeQuestions(orm, { first, last, op, revision: op === 'update' ? 1 : 0 });
    }
  }
  return head;
}

type Run = (sql: string, params: unknown[]) => Promise<unknown>;
type Row = ReturnType<typeof questionRow>;

async function writeData(run: Run, postgres: boolean, op: BulkOp, rows: Row[]): Promise<void> {
  const date = (q: Row) => (postgres ? new Date(q.pubDate).toISOString() : q.pubDate);
  if (op === 'delete') {
    await run(
      `delete from question where id in (${marks(rows.length, 1)})`,
      rows.map((q) => q.id),
    );
    return;
  }
  const values = rows.flatMap((q) => [q.id, q.questionText, date(q)]);
  await run(
    `insert into question (id, question_text, pub_date) values ${marks(rows.length, 3)}
     on conflict (id) do update set question_text = excluded.question_text`,
    values,
  );
}

/** The outbox row capture writes for `op` on question `q`, column by column (dates: epoch ms on SQLite, ISO on PostgreSQL). */
function outboxRow(postgres: boolean, op: BulkOp, q: Row, seq: number, txId: string, epoch: number): unknown[] {
  const pk = JSON.stringify({ id: q.id });
  if (op === 'delete') return [seq, txId, epoch, 'Question', op, pk, null, null];
  const pubDate = postgres ? new Date(q.pubDate).toISOString() : q.pubDate;
  const after = JSON.stringify({ id: q.id, questionText: q.questionText, pubDate });
  return [seq, txId, epoch, 'Question', op, pk, after, op === 'update' ? '["questionText"]' : null];
}

function marks(rows: number, columns: number): string {
  const row = `(${Array(columns).fill('?').join(', ')})`;
  return Array(rows).fill(row).join(', ');
}

/**
 * Writes questions first..first+2 through `orm`, which must have capture installed (an insert, an update and a
 * delete transaction), and throws unless each outbox row equals the bulk writer's for the same seq, txId and epoch.
 */
export async function expectSameAsCapture(orm: MikroORM, first: number): Promise<void> {
  const connection = orm.em.getConnection();
  const postgres = onPostgres(connection.getPlatform());
  const rows = [first, first + 1, first + 2].map((i) => questionRow(i, 0));
  const steps: [BulkOp, Row[]][] = [
    ['insert', rows],
    ['update', rows.map((_, k) => questionRow(first + k, 1))],
    ['delete', rows.slice(0, 1).map((_, k) => questionRow(first + k, 1))],
  ];
  const before = await headOf(connection);
  await orm.em.fork().transactional(async (em) => {
    for (const q of rows) em.create(Question, { ...q, pubDate: new Date(q.pubDate) });
  });
  await orm.em.fork().transactional(async (em) => {
    for (const q of steps[1]![1]) (await em.findOneOrFail(Question, q.id)).questionText = q.questionText;
  });
  await orm.em.fork().transactional(async (em) => {
    em.remove(await em.findOneOrFail(Question, rows[0]!.id));
  });
  const stored: Record<string, unknown>[] = await connection.execute(
    'select seq, tx_id, epoch, entity, op, pk, after_image, changed from oplog_entry where seq > ? order by seq',
    [before],
  );
  const expected = steps.flatMap(([op, list]) => list.map((q) => [op, q] as const));
  if (stored.length !== expected.length) throw new Error(`capture wrote ${stored.length} rows, not ${expected.length}`);
  stored.forEach((row, k) => {
    const [op, q] = expected[k]!;
    const got = [
      Number(row.seq),
      row.tx_id,
      Number(row.epoch),
      row.entity,
      row.op,
      row.pk,
      row.after_image,
      row.changed,
    ];
    const want = outboxRow(postgres, op, q, Number(row.seq), String(row.tx_id), Number(row.epoch));
    if (JSON.stringify(got) !== JSON.stringify(want)) {
      throw new Error(
        `the bulk writer differs from capture:\n  capture ${JSON.stringify(got)}\n  bulk    ${JSON.stringify(want)}`,
      );
    }
  });
}

async function headOf(connection: Connection): Promise<number> {
  const rows = await connection.execute<{ n: number | string | null }[]>('select max(head_seq) as n from oplog_source');
  return Number(rows[0]?.n ?? 0);
}
