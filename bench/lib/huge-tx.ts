/**
 * The huge-transaction phase: one source transaction of a million updates, the kind that takes other sync engines
 * down. Both databases hold the rows already (written without capture; the consumer knows the source, caught up);
 * then one transaction updates every row, written straight to the source's tables by the bulk writer, whose outbox
 * rows are first checked byte for byte against capture's. From the producer's connection to the cursor at the head,
 * the producer streams it in parts of 1,000 entries, the consumer stages each part and applies them all in one
 * transaction with the last one: the rate, CPU and peak RSS of both CLIs.
 */
import { performance } from 'node:perf_hooks';
import { readSourceHead } from '@oplog/capture';
import { pollsEntities } from '@oplog/demo/entities';
import { openOrm } from '@oplog/runtime';
import { expectSameAsCapture, writeQuestions } from '@oplog/testing/bulk-transaction';
import { tableChecksums } from '@oplog/testing/checksum';
import { openSource } from './backlog.js';
import { type Db, type Driver, dbConfig, newDb } from './db.js';
import type { Part } from './meter.js';
import { startMeter } from './meter.js';
import { knownBeforeTheOutage, type Pipeline, startPipeline } from './pipeline.js';
import { waitForQuiet } from './proc.js';
import { round3, waitUntil } from './stats.js';
import type { ThroughputRun } from './timed.js';

const progress = (line: string) => process.stderr.write(`${line}\n`);

export async function hugeTransactionOnce(
  driver: Driver,
  rows: number,
  servers: { source?: string; target?: string },
  clusterParts: Part[],
): Promise<ThroughputRun> {
  const source = await newDb(driver, 'hugetx_source', servers.source);
  const target = await newDb(driver, 'hugetx_target', servers.target);
  let pipeline: Pipeline | undefined;
  try {
    const head = await prepare(source, target, rows);
    const waitedSeconds = await waitForQuiet();
    pipeline = await startPipeline(source, target, clusterParts);
    const meter = startMeter(pipeline.parts);
    const started = performance.now();
    await waitUntil(`seq ${head} applied`, async () => (await pipeline!.appliedSeq()) >= head, 30 * 60_000, 50);
    const seconds = (performance.now() - started) / 1000;
    const usage = meter.stop();
    await pipeline.stop();
    await expectSameQuestions(source, target);
    return { seconds: round3(seconds), changesPerSecond: Math.round(rows / seconds), waitedSeconds, usage };
  } finally {
    await pipeline?.stop();
    await source.drop();
    await target.drop();
  }
}

/**
 * Questions 1..rows on both sides, uncaptured; the consumer's cursor at the source's (empty) log; then, captured, a
 * few rows through the ORM (the bulk writer's check) and the one transaction updating rows 1..rows. Returns the head.
 */
async function prepare(source: Db, target: Db, rows: number): Promise<number> {
  const started = performance.now();
  const sourceOrm = await openSource(source);
  try {
    await writeQuestions(sourceOrm, { first: 1, last: rows, op: 'insert' }, false);
    await expectSameAsCapture(sourceOrm, rows + 1);
    // Created by the capture check above: the consumer must know this source before it first connects.
    await knownBeforeTheOutage(source, target);
    const targetOrm = await openOrm(dbConfig(target), { entities: pollsEntities });
    try {
      await writeQuestions(targetOrm, { first: 1, last: rows, op: 'insert' }, false);
    } finally {
      await targetOrm.close();
    }
    const head = await writeQuestions(sourceOrm, { first: 1, last: rows, op: 'update', revision: 1 });
    const written = await readSourceHead(sourceOrm.em.getConnection());
    if (written?.seq !== head) throw new Error(`the source's head is ${written?.seq}, expected ${head}`);
    progress(`    ${rows} rows on both sides and one transaction updating them all (${secondsSince(started)} s)`);
    return head;
  } finally {
    await sourceOrm.close();
  }
}

async function expectSameQuestions(source: Db, target: Db): Promise<void> {
  const sums: Record<string, string>[] = [];
  for (const db of [source, target]) {
    const orm = await openOrm(dbConfig(db), { entities: pollsEntities });
    try {
      sums.push(await tableChecksums(orm, ['Question']));
    } finally {
      await orm.close();
    }
  }
  if (JSON.stringify(sums[0]) !== JSON.stringify(sums[1])) {
    throw new Error(`the replica differs from the source: ${JSON.stringify(sums[0])} vs ${JSON.stringify(sums[1])}`);
  }
}

const secondsSince = (start: number) => Math.round((performance.now() - start) / 100) / 10;
