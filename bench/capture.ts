/**
 * The cost of capture: the same workloads with and without the OplogCapture subscriber, on SQLite and PostgreSQL.
 *
 *   npm run bench:capture                            # a table
 *   npm run -s bench:capture -- --json --rounds 7    # one JSON object on stdout (-s keeps npm's banner off it)
 *
 * Workloads: (a) 1,000 single-row transactions (em.create + em.flush on a fresh fork each), (b) one flush of
 * 10,000 new rows. Every run gets a fresh database with the same schema (the outbox tables exist in both modes);
 * with and without capture alternate within each round, and which goes first alternates between rounds.
 * Reported: the median time of each and their ratio (the targets apply to it), and the ratio of the fastest runs.
 * PostgreSQL (OPLOG_TEST_PG_URL, default 127.0.0.1:5432) is skipped with the reason when it does not answer; under
 * CI=true that fails instead.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import type { MikroORM } from '@mikro-orm/core';
import { MikroORM as PostgresOrm } from '@mikro-orm/postgresql';
import { MikroORM as SqliteOrm } from '@mikro-orm/sqlite';
import { OplogCapture, oplogEntities } from '@oplog/capture';
import { pollsEntities, Question } from '@oplog/demo/entities';
import { createTestDatabase, type Driver } from '@oplog/testing/databases';
import { PG_URL, postgresReachable } from '@oplog/testing/services';

interface Workload {
  name: string;
  description: string;
  /** The largest acceptable ratio of the median with capture to the median without. */
  target: number;
  /** Rows written (and, with capture, outbox entries). */
  rows: number;
  run(orm: MikroORM): Promise<void>;
}

type Mode = 'with' | 'without';

interface Result {
  driver: Driver;
  workload: string;
  description: string;
  rows: number;
  withoutMs: number[];
  withMs: number[];
  medianWithoutMs: number;
  medianWithMs: number;
  /** medianWithMs / medianWithoutMs: what the target applies to. */
  ratio: number;
  /** The same ratio of the fastest runs, steadier than the medians on a machine that is busy with other work. */
  ratioOfMins: number;
  target: number;
  meetsTarget: boolean;
}

const { values: args } = parseArgs({
  options: { json: { type: 'boolean', default: false }, rounds: { type: 'string', default: '5' } },
});
const json = args.json === true;
const rounds = Number(args.rounds);
if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds must be a positive integer, got ${args.rounds}`);

// With --json, stdout carries the result object only: everything else (progress, any library logging) goes to stderr.
const out = console.log.bind(console);
if (json) console.log = console.info = console.warn = console.debug = console.error.bind(console);
const progress = (line: string) => process.stderr.write(`${line}\n`);

const pubDate = new Date('2024-05-01T12:00:00.000Z');
const newQuestion = (i: number) => ({ id: randomUUID(), questionText: `Question ${i}?`, pubDate });

function singleRowTransactions(count: number): Workload {
  return {
    name: 'a',
    description: `${count.toLocaleString('en')} single-row transactions`,
    target: 1.1,
    rows: count,
    async run(orm) {
      for (let i = 0; i < count; i++) {
        const em = orm.em.fork();
        em.create(Question, newQuestion(i));
        await em.flush();
      }
    },
  };
}

function oneBigFlush(count: number): Workload {
  return {
    name: 'b',
    description: `one ${count.toLocaleString('en')}-row flush`,
    target: 1.25,
    rows: count,
    async run(orm) {
      const em = orm.em.fork();
      for (let i = 0; i < count; i++) em.create(Question, newQuestion(i));
      await em.flush();
    },
  };
}

async function openOrm(driver: Driver, mode: Mode, dbName: string, clientUrl?: string): Promise<MikroORM> {
  const options = {
    entities: [...pollsEntities, ...oplogEntities],
    subscribers: mode === 'with' ? [new OplogCapture()] : [],
  };
  if (driver === 'sqlite') return SqliteOrm.init({ ...options, dbName });
  return PostgresOrm.init({ ...options, dbName, clientUrl });
}

/** One timed run on a fresh database; returns milliseconds. Checks that capture wrote one entry per row, or none. */
async function timeRun(driver: Driver, workload: Workload, mode: Mode): Promise<number> {
  const db = await createTestDatabase(driver, 'bench', undefined, { durable: true });
  try {
    const orm = await openOrm(driver, mode, db.dbName, db.clientUrl);
    try {
      await orm.schema.createSchema();
      const started = performance.now();
      await workload.run(orm);
      const elapsed = performance.now() - started;
      const rows: { n: number | string }[] = await orm.em
        .getConnection()
        .execute('select count(*) as n from oplog_entry');
      const entries = Number(rows[0]?.n);
      const expected = mode === 'with' ? workload.rows : 0;
      if (entries !== expected)
        throw new Error(`${mode} capture wrote ${entries} outbox entries, expected ${expected}`);
      return elapsed;
    } finally {
      await orm.close();
    }
  } finally {
    await db.drop();
  }
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

async function measure(driver: Driver, workload: Workload): Promise<Result> {
  const times: Record<Mode, number[]> = { with: [], without: [] };
  for (let round = 0; round < rounds; round++) {
    const order: Mode[] = round % 2 === 0 ? ['without', 'with'] : ['with', 'without'];
    for (const mode of order) times[mode].push(await timeRun(driver, workload, mode));
    progress(
      `  ${driver} ${workload.name} round ${round + 1}/${rounds}: without ${times.without.at(-1)!.toFixed(0)} ms, with ${times.with.at(-1)!.toFixed(0)} ms`,
    );
  }
  const medianWithoutMs = median(times.without);
  const medianWithMs = median(times.with);
  const ratio = medianWithMs / medianWithoutMs;
  return {
    driver,
    workload: workload.name,
    description: workload.description,
    rows: workload.rows,
    withoutMs: times.without.map(round1),
    withMs: times.with.map(round1),
    medianWithoutMs: round1(medianWithoutMs),
    medianWithMs: round1(medianWithMs),
    ratio: round3(ratio),
    ratioOfMins: round3(Math.min(...times.with) / Math.min(...times.without)),
    target: workload.target,
    meetsTarget: ratio <= workload.target,
  };
}

function round1(ms: number): number {
  return Math.round(ms * 10) / 10;
}

function round3(ratio: number): number {
  return Math.round(ratio * 1000) / 1000;
}

async function main(): Promise<void> {
  const drivers: Driver[] = ['sqlite'];
  const skipped: Partial<Record<Driver, string>> = {};
  if (await postgresReachable()) {
    drivers.push('postgresql');
  } else {
    const why = `PostgreSQL is not reachable at ${new URL(PG_URL).host}`;
    if (process.env.CI === 'true') {
      console.error(`bench: ${why}, and CI=true requires the PostgreSQL benchmark`);
      process.exit(1);
    }
    skipped.postgresql = why;
    progress(`skipping PostgreSQL: ${why}`);
  }

  const workloads = [singleRowTransactions(1_000), oneBigFlush(10_000)];
  const started = performance.now();
  const results: Result[] = [];
  for (const driver of drivers) {
    // Warm up the JIT and the driver on small versions of both workloads, in both modes; not measured.
    for (const warmup of [singleRowTransactions(100), oneBigFlush(1_000)]) {
      for (const mode of ['without', 'with'] as const) await timeRun(driver, warmup, mode);
    }
    for (const workload of workloads) results.push(await measure(driver, workload));
  }
  const totalSeconds = Math.round((performance.now() - started) / 100) / 10;

  if (json) {
    out(JSON.stringify({ node: process.version, rounds, totalSeconds, results, skipped }));
    return;
  }
  console.table(
    results.map((r) => ({
      driver: r.driver,
      workload: `${r.workload}: ${r.description}`,
      'without (ms)': r.medianWithoutMs,
      'with (ms)': r.medianWithMs,
      'rows/s with': Math.round(r.rows / (r.medianWithMs / 1000)),
      ratio: `${r.ratio.toFixed(3)}×`,
      'ratio of mins': `${r.ratioOfMins.toFixed(3)}×`,
      target: `≤ ${r.target}×`,
      ok: r.meetsTarget ? 'yes' : 'NO',
    })),
  );
  for (const [driver, why] of Object.entries(skipped)) console.log(`${driver} skipped: ${why}`);
  console.log(`medians of ${rounds} rounds; ${totalSeconds} s in all`);
}

await main();
