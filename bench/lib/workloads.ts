/**
 * The application's writes, the same on every side: the demo's Question rows created through MikroORM (with
 * capture installed for our pipeline, without it for the native peer, which decodes the WAL instead).
 */
import { randomUUID } from 'node:crypto';
import type { MikroORM } from '@mikro-orm/core';
import { Question } from '@oplog/demo/entities';
import { sleep } from './stats.js';

export type LiveWorkloadId = 'one-tx' | 'batched' | 'single';

export interface LiveWorkload {
  id: LiveWorkloadId;
  label: string;
  rows: number;
  perTx: number;
}

export function liveWorkloads(rows: number, batch: number): LiveWorkload[] {
  const n = rows.toLocaleString('en');
  return [
    { id: 'one-tx', label: `${n} rows in one transaction`, rows, perTx: rows },
    { id: 'batched', label: `${n} rows in ${batch.toLocaleString('en')}-row transactions`, rows, perTx: batch },
    { id: 'single', label: `${n} single-row transactions`, rows, perTx: 1 },
  ];
}

const pubDate = new Date('2024-05-01T12:00:00.000Z');

/** Commits `rows` new questions, `perTx` per transaction (one flush each); returns the last id committed. */
export async function writeThroughOrm(orm: MikroORM, rows: number, perTx: number, tag: string): Promise<string> {
  let last = '';
  for (let start = 0; start < rows; start += perTx) {
    const em = orm.em.fork();
    for (let i = start; i < Math.min(rows, start + perTx); i++) {
      last = randomUUID();
      em.create(Question, { id: last, questionText: `${tag} ${i}?`, pubDate });
    }
    await em.flush();
  }
  return last;
}

/**
 * `count` single-row transactions, the i-th started at start + i × interval (so a slow one does not shift the
 * rest); `onCommit` runs right after each commit.
 */
export async function commitPaced(
  orm: MikroORM,
  count: number,
  ratePerSecond: number,
  tag: string,
  onCommit: (id: string) => void = () => {},
): Promise<void> {
  const intervalMs = 1000 / ratePerSecond;
  const start = performance.now();
  for (let i = 0; i < count; i++) {
    const wait = start + i * intervalMs - performance.now();
    if (wait > 0) await sleep(wait);
    const em = orm.em.fork();
    const id = randomUUID();
    em.create(Question, { id, questionText: `${tag} ${i}?`, pubDate: new Date() });
    await em.flush();
    onCommit(id);
  }
}
