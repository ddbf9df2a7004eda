/**
 * A backlog of single-row source transactions, built while no consumer runs, in a template database that every
 * round copies. By default it is written in bulk: 200 transactions go through the ORM with capture installed,
 * each of their outbox rows is checked to be byte-identical to what the bulk writer produces for the same row,
 * txId and epoch, and the bulk writer writes the rest the same way (one txId per row, gapless seqs, the same JSON,
 * the head moved to match). 'orm' writes all of it through the ORM instead (~800 transactions/s here).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { MikroORM } from '@mikro-orm/core';
import { OplogCapture, oplogEntities } from '@oplog/capture';
import { pollsEntities, Question } from '@oplog/demo/entities';
import { openOrm } from '@oplog/runtime';
import { adminQuery } from '@oplog/testing/databases';
import { type Db, type Driver, dbConfig, newDb } from './db.js';
import { round1 } from './stats.js';

export type BacklogMethod = 'bulk' | 'orm';

export interface Backlog {
  template: Db;
  entries: number;
  method: BacklogMethod;
  /** Outbox rows written by capture itself (and checked against the bulk writer, when bulk). */
  capturedByOrm: number;
  buildSeconds: number;
}

const progress = (line: string) => process.stderr.write(`${line}\n`);

const URL_ALPHABET = 'useandom-26T198340PX75pxJACKVERYMINDBUSHWOLF_GQZbfghjklqvwyzrict';
/** The same 21-character id nanoid() makes (nanoid's own alphabet and algorithm), which capture uses as txId. */
function txIdLike(): string {
  const bytes = randomBytes(21);
  let id = '';
  for (const byte of bytes) id += URL_ALPHABET[byte & 63];
  return id;
}

interface QuestionRow {
  id: string;
  questionText: string;
  /** Epoch milliseconds. */
  pubDate: number;
}

/**
 * The outbox row capture writes for the insert of `q` in a single-row transaction, column by column. The
 * after-image is the ORM's snapshot, in property order: dates are epoch ms on SQLite and ISO strings on PostgreSQL.
 */
function outboxRow(driver: Driver, q: QuestionRow, seq: number, txId: string, epoch: number): unknown[] {
  const pubDate = driver === 'sqlite' ? q.pubDate : new Date(q.pubDate).toISOString();
  const after = JSON.stringify({ id: q.id, questionText: q.questionText, pubDate });
  return [seq, txId, epoch, 'Question', 'insert', JSON.stringify({ id: q.id }), after, null];
}

/** The question table's row, as the ORM writes it. */
function dataRow(driver: Driver, q: QuestionRow): unknown[] {
  return [q.id, q.questionText, driver === 'sqlite' ? q.pubDate : new Date(q.pubDate).toISOString()];
}

export async function openSource(db: Db): Promise<MikroORM> {
  const orm = await openOrm(dbConfig(db), {
    entities: [...pollsEntities, ...oplogEntities],
    subscribers: [new OplogCapture()],
  });
  await orm.schema.updateSchema({ safe: true });
  if (db.driver === 'sqlite') await orm.em.getConnection().execute('pragma journal_mode = wal');
  return orm;
}

/** Commits single-row transactions through the ORM with capture; returns the rows, in seq order. */
async function captureThroughOrm(orm: MikroORM, from: number, count: number): Promise<QuestionRow[]> {
  const rows: QuestionRow[] = [];
  const base = Date.parse('2024-05-01T12:00:00.000Z');
  for (let i = from; i < from + count; i++) {
    const q = { id: randomUUID(), questionText: `Question ${i}?`, pubDate: base + i };
    const em = orm.em.fork();
    em.create(Question, { ...q, pubDate: new Date(q.pubDate) });
    await em.flush();
    rows.push(q);
    if (count >= 10_000 && (i - from + 1) % 10_000 === 0) progress(`    ${i - from + 1} transactions through the ORM`);
  }
  return rows;
}

/** Fails unless the bulk writer reproduces, byte for byte, every outbox row capture wrote for `rows`. */
async function checkBulkMatchesCapture(orm: MikroORM, driver: Driver, rows: QuestionRow[]): Promise<void> {
  const stored: Record<string, unknown>[] = await orm.em
    .getConnection()
    .execute('select seq, tx_id, epoch, entity, op, pk, after_image, changed from oplog_entry order by seq');
  if (stored.length !== rows.length) throw new Error(`capture wrote ${stored.length} rows for ${rows.length} commits`);
  const txIds = new Set<string>();
  stored.forEach((row, i) => {
    const seq = Number(row.seq);
    const txId = String(row.tx_id);
    txIds.add(txId);
    const got = [seq, txId, Number(row.epoch), row.entity, row.op, row.pk, row.after_image, row.changed];
    const want = outboxRow(driver, rows[i]!, i + 1, txId, Number(row.epoch));
    if (JSON.stringify(got) !== JSON.stringify(want) || txId.length !== 21 || !/^[\w-]+$/.test(txId)) {
      throw new Error(
        `the bulk writer differs from capture at seq ${seq}:\n  capture ${JSON.stringify(got)}\n  bulk    ${JSON.stringify(want)}`,
      );
    }
  });
  if (txIds.size !== rows.length) throw new Error('capture gave two single-row transactions one txId');
}

/** Appends `count` single-row transactions after seq `from - 1`, in bulk, exactly as capture writes them. */
async function writeInBulk(orm: MikroORM, driver: Driver, from: number, count: number): Promise<void> {
  const connection = orm.em.getConnection();
  const base = Date.parse('2024-05-01T12:00:00.000Z');
  const CHUNK = 500;
  const TX_ROWS = 50_000;
  let epoch = 0;
  for (let txStart = from; txStart < from + count; txStart += TX_ROWS) {
    const txEnd = Math.min(from + count, txStart + TX_ROWS);
    await orm.em.transactional(async (em) => {
      const trx = em.getTransactionContext();
      for (let start = txStart; start < txEnd; start += CHUNK) {
        const end = Math.min(txEnd, start + CHUNK);
        const entries: unknown[] = [];
        const data: unknown[] = [];
        for (let seq = start; seq < end; seq++) {
          const q = { id: randomUUID(), questionText: `Question ${seq}?`, pubDate: base + seq };
          // Capture stamps each transaction with the time its seqs were allocated, never going back.
          epoch = Math.max(epoch, Date.now());
          entries.push(...outboxRow(driver, q, seq, txIdLike(), epoch));
          data.push(...dataRow(driver, q));
        }
        const n = end - start;
        await connection.execute(
          `insert into question (id, question_text, pub_date) values ${Array(n).fill('(?, ?, ?)').join(', ')}`,
          data,
          'run',
          trx,
        );
        await connection.execute(
          `insert into oplog_entry (seq, tx_id, epoch, entity, op, pk, after_image, changed) values ${Array(n).fill('(?, ?, ?, ?, ?, ?, ?, ?)').join(', ')}`,
          entries,
          'run',
          trx,
        );
      }
      await connection.execute(
        'update oplog_source set head_seq = ?, head_epoch = case when head_epoch > ? then head_epoch else ? end where slot = 1',
        [txEnd - 1, epoch, epoch],
        'run',
        trx,
      );
    });
    if (count >= 200_000) progress(`    ${txEnd - from} entries written in bulk`);
  }
}

/**
 * Builds a backlog of `entries` single-row transactions in a template database, while no consumer runs.
 * Durability of the source does not matter while building (the rows are the same), so it is relaxed to go faster.
 */
export async function buildBacklog(
  driver: Driver,
  entries: number,
  method: BacklogMethod,
  server?: string,
): Promise<Backlog> {
  const started = performance.now();
  const template = await newDb(driver, 'backlog', server);
  const alter = (setting: string) => adminQuery(`alter database ${template.name} ${setting}`, server);
  if (driver === 'postgresql') await alter('set synchronous_commit = off');
  const orm = await openSource(template);
  try {
    const connection = orm.em.getConnection();
    if (driver === 'sqlite') await connection.execute('pragma synchronous = off');
    const viaOrm = method === 'orm' ? entries : Math.min(entries, 200);
    const captured = await captureThroughOrm(orm, 1, viaOrm);
    if (method === 'bulk') {
      await checkBulkMatchesCapture(orm, driver, captured);
      await writeInBulk(orm, driver, viaOrm + 1, entries - viaOrm);
    }
    const [head] = await connection.execute<{ n: number | string }[]>('select head_seq as n from oplog_source');
    const [count] = await connection.execute<{ n: number | string }[]>('select count(*) as n from oplog_entry');
    if (Number(head?.n) !== entries || Number(count?.n) !== entries) {
      throw new Error(`backlog has head ${head?.n} and ${count?.n} entries, expected ${entries}`);
    }
    if (driver === 'postgresql') await connection.execute('vacuum analyze oplog_entry');
    return {
      template,
      entries,
      method,
      capturedByOrm: viaOrm,
      buildSeconds: round1((performance.now() - started) / 1000),
    };
  } finally {
    await orm.close();
    if (driver === 'postgresql') await alter('reset synchronous_commit');
  }
}
