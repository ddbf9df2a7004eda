/**
 * End-to-end streaming: catch-up throughput, commit-to-commit latency and memory, with real processes and
 * sockets on 127.0.0.1, into SQLite and into PostgreSQL (source and consumer on the same driver).
 *
 *   npm run -s bench:stream [-- --json] [-- --rounds 3] [-- --full] [-- --orm-backlog] [-- --phases catchup,latency]
 *     [-- --drivers sqlite,postgresql] [-- --entries 100000] [-- --cpu-prof DIR] [-- --cli-node-flags="--max-old-space-size=512"]
 *
 * 1. catch-up: a backlog of single-row source transactions (100,000 by default) is built while no consumer runs;
 *    then `oplog-consumer` and an `oplog-producer` sidecar start as two processes (the CLIs in apps/, run as
 *    as their shebang does: node with tsx), and the rate is entries / (time from the producer's "connected" log
 *    line to the consumer's cursor reaching the head, polled on /api/sources every 20 ms). Median of --rounds,
 *    each round on a copy of the same backlog.
 * 2. latency: bench/stream-writer.ts, a process running the polls app with capture and an embedded producer,
 *    commits 1,000 single-row transactions at 100/s; the consumer runs inside this process (createConsumer), so
 *    an afterTransactionCommit hook on its ORM gives the instant each entry became durable there. Both
 *    processes read CLOCK_MONOTONIC (process.hrtime), one clock. Median of --rounds of p50 / p95 / p99.
 * 3. memory (--full, or --phases memory): catch-up of 1,000,000 entries, two processes as in 1; peak RSS
 *    (VmHWM) of each, VmRSS at start and sampled every 200 ms, and what tsx itself adds to any process.
 *
 * The backlog is, by default, written in bulk: 200 transactions go through the ORM with capture installed, each
 * of their outbox rows is checked to be byte-identical to what the bulk writer produces for the same row, txId
 * and epoch, and the bulk writer writes the rest the same way (one txId per row, gapless seqs, the same JSON,
 * the head moved to match). --orm-backlog writes all of it through the ORM instead (~800 transactions/s here,
 * with the source's durability relaxed while building; the rows are the same).
 *
 * This machine is shared: every timed run first waits (up to 60 s) for the rest of the machine to be nearly
 * idle, and reports how much CPU everything else used meanwhile (PostgreSQL's backends count there too).
 * With --json, stdout holds exactly one JSON object.
 */
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { EventSubscriber, MikroORM } from '@mikro-orm/core';
import { OplogCapture, oplogEntities } from '@oplog/capture';
import { type Consumer, consumerEntities, createConsumer } from '@oplog/consumer';
import { createLogger, type DbConfig, openOrm } from '@oplog/runtime';
import { pollsEntities, Question } from '../apps/demo/src/entities.js';
import { tableChecksums } from '../test/support/checksum.js';
import { adminQuery, createTestDatabase, type Driver } from '../test/support/databases.js';
import { PG_URL, postgresReachable } from '../test/support/services.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const ENTITIES_MODULE = join(ROOT, 'apps/demo/src/entities.ts');
const SCRIPTS = {
  consumer: join(ROOT, 'apps/consumer/src/cli.ts'),
  producer: join(ROOT, 'apps/producer/src/cli.ts'),
  writer: join(ROOT, 'bench/stream-writer.ts'),
} as const;
const PHASES = ['catchup', 'latency', 'memory'] as const;
type Phase = (typeof PHASES)[number];

const { values: args } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    rounds: { type: 'string', default: '3' },
    full: { type: 'boolean', default: false },
    'orm-backlog': { type: 'boolean', default: false },
    phases: { type: 'string' },
    drivers: { type: 'string', default: 'sqlite,postgresql' },
    entries: { type: 'string', default: '100000' },
    'memory-entries': { type: 'string', default: '1000000' },
    commits: { type: 'string', default: '1000' },
    rate: { type: 'string', default: '100' },
    'cpu-prof': { type: 'string' },
    'cli-node-flags': { type: 'string', default: '' },
  },
});
const json = args.json === true;
const rounds = positive('rounds');
const catchUpEntries = positive('entries');
const memoryEntries = positive('memory-entries');
const latencyCommits = positive('commits');
const latencyRate = positive('rate');
const backlogMethod: BacklogMethod = args['orm-backlog'] ? 'orm' : 'bulk';
const phases = new Set<Phase>(
  (args.phases?.split(',') ?? ['catchup', 'latency', ...(args.full ? ['memory'] : [])]).map((p) => {
    if (!(PHASES as readonly string[]).includes(p)) throw new Error(`--phases: unknown phase ${p}`);
    return p as Phase;
  }),
);
const cpuProfDir = args['cpu-prof'] && resolve(args['cpu-prof']);
if (cpuProfDir) mkdirSync(cpuProfDir, { recursive: true });
/** Extra node flags for the child processes (the CLIs and the writer), e.g. V8 heap sizes when studying memory. */
const cliNodeFlags = args['cli-node-flags'].split(' ').filter(Boolean);

function positive(name: 'rounds' | 'entries' | 'memory-entries' | 'commits' | 'rate'): number {
  const value = Number(args[name]);
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} must be a positive integer, got ${args[name]}`);
  return value;
}

// With --json, stdout carries the result object only: everything else (progress, any library logging) goes to stderr.
const out = console.log.bind(console);
if (json) console.log = console.info = console.warn = console.debug = console.error.bind(console);
const progress = (line: string) => process.stderr.write(`${line}\n`);

const TARGETS = {
  /** changes/s: anchors.md, our own target. */
  catchUpSqlite: 40_000,
  /** changes/s: native PostgreSQL logical replication of single-row transactions, measured on this machine class. */
  catchUpPostgres: 33_000,
  latencyP50Ms: 3,
  latencyP99Ms: 10,
  peakRssMb: 150,
};

// ---------------------------------------------------------------------------------------------------------------
// Databases and the backlog
// ---------------------------------------------------------------------------------------------------------------

type BacklogMethod = 'bulk' | 'orm';

/** A database the bench owns: an SQLite file in its own temp directory, or a PostgreSQL database. */
interface Db {
  driver: Driver;
  /** SQLite file, or PostgreSQL database name. */
  name: string;
  url?: string;
  drop(): Promise<void>;
}

interface Backlog {
  template: Db;
  entries: number;
  method: BacklogMethod;
  /** Outbox rows written by capture itself (and checked against the bulk writer, when bulk). */
  capturedByOrm: number;
  buildSeconds: number;
}

async function newDb(driver: Driver, label: string): Promise<Db> {
  const db = await createTestDatabase(driver, label);
  return { driver, name: db.dbName, url: db.clientUrl, drop: db.drop };
}

/** A copy of `template`, so that every round starts from the same backlog without building it again. */
async function cloneDb(template: Db, label: string): Promise<Db> {
  if (template.driver === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'oplog-'));
    const name = join(dir, `${label}.sqlite`);
    copyFileSync(template.name, name);
    return { driver: 'sqlite', name, drop: async () => rmSync(dir, { recursive: true, force: true }) };
  }
  const name = `oplog_${label}_${process.pid}_${randomBytes(4).toString('hex')}`;
  await adminQuery(`create database ${name} template ${template.name}`);
  return {
    driver: 'postgresql',
    name,
    url: `${PG_URL}/${name}`,
    drop: () => adminQuery(`drop database if exists ${name} with (force)`),
  };
}

function dbConfig(db: Db): DbConfig {
  return db.driver === 'sqlite' ? { driver: 'sqlite', name: db.name } : { driver: 'postgresql', url: db.url };
}

function dbFlags(db: Db): string[] {
  return db.driver === 'sqlite'
    ? ['--db-driver', 'sqlite', '--db-name', db.name]
    : ['--db-driver', 'postgresql', '--db-url', db.url!];
}

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

async function openSource(db: Db): Promise<MikroORM> {
  const orm = await openOrm(dbConfig(db), {
    entities: [...pollsEntities, ...oplogEntities],
    subscribers: [new OplogCapture()],
  });
  await orm.schema.updateSchema({ safe: true });
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
async function buildBacklog(driver: Driver, entries: number, method: BacklogMethod): Promise<Backlog> {
  const started = performance.now();
  const template = await newDb(driver, 'backlog');
  if (driver === 'postgresql') await adminQuery(`alter database ${template.name} set synchronous_commit = off`);
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
    if (driver === 'postgresql') await adminQuery(`alter database ${template.name} reset synchronous_commit`);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Child processes
// ---------------------------------------------------------------------------------------------------------------

type LogLine = Record<string, unknown> & { msg?: string };

/** A process of ours (a CLI or the writer); stdout is read as JSON lines, stderr kept for error messages. */
class Child {
  readonly lines: LogLine[] = [];
  readonly stderr: string[] = [];
  readonly exited: Promise<number | null>;
  readonly child: ChildProcess;
  #waiters: { match: (l: LogLine) => boolean; resolve: (l: LogLine) => void }[] = [];

  constructor(
    readonly label: string,
    script: string,
    argv: string[],
  ) {
    const profile = cpuProfDir
      ? ['--cpu-prof', '--cpu-prof-dir', cpuProfDir, '--cpu-prof-name', `${label}.${Date.now()}.cpuprofile`]
      : [];
    this.child = spawn(
      process.execPath,
      [...cliNodeFlags, ...profile, '--conditions=@oplog/source', '--import', 'tsx', script, ...argv],
      {
        cwd: ROOT,
        env: { ...process.env, OPLOG_LOG_LEVEL: 'info' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
    createInterface({ input: this.child.stdout! }).on('line', (line) => this.#onLine(line));
    createInterface({ input: this.child.stderr! }).on('line', (line) => this.stderr.push(line));
  }

  get pid(): number {
    return this.child.pid!;
  }

  waitFor(what: string, match: (line: LogLine) => boolean, timeoutMs = 60_000): Promise<LogLine> {
    const seen = this.lines.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(this.failure(`timed out waiting for ${what}`)), timeoutMs);
      void this.exited.then(() => reject(this.failure(`exited while waiting for ${what}`)));
      this.#waiters.push({
        match,
        resolve: (line) => {
          clearTimeout(timer);
          resolve(line);
        },
      });
    });
  }

  failure(why: string): Error {
    const tail = [...this.lines.slice(-5).map((l) => JSON.stringify(l)), ...this.stderr.slice(-15)].join('\n');
    return new Error(`${this.label}: ${why}; last output:\n${tail}`);
  }

  async stop(): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 15_000);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }

  #onLine(line: string): void {
    let parsed: LogLine;
    try {
      parsed = JSON.parse(line);
    } catch {
      this.stderr.push(line);
      return;
    }
    this.lines.push(parsed);
    this.#waiters = this.#waiters.filter((waiter) => {
      if (!waiter.match(parsed)) return true;
      waiter.resolve(parsed);
      return false;
    });
  }
}

const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** CPU seconds (user + system) a process has used so far, from /proc/PID/stat. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which is in parentheses and may hold spaces: utime and stime are 14th and 15th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

/** CPU seconds the whole machine has spent busy (every CPU, every process), from /proc/stat. */
function machineBusySeconds(): number {
  const [, ...ticks] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).map(Number);
  // user nice system idle iowait irq softirq steal: busy is all but idle and iowait.
  const busy = ticks.slice(0, 8).reduce((sum, t, i) => (i === 3 || i === 4 ? sum : sum + t!), 0);
  return busy / CLK_TCK;
}

/**
 * This machine is shared: before a timed run, waits (up to `maxWaitMs`) until everything else together keeps
 * less than a quarter of one CPU busy, so other load skews the figures less. Returns the seconds waited.
 */
async function waitForQuiet(maxWaitMs = 60_000): Promise<number> {
  const started = performance.now();
  while (performance.now() - started < maxWaitMs) {
    const before = machineBusySeconds();
    await sleep(500);
    if ((machineBusySeconds() - before) / 0.5 < 0.25) break;
  }
  return round1((performance.now() - started) / 1000);
}

/** VmRSS and VmHWM (peak RSS) of a process, in MB. */
function memoryMb(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
  return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024 };
}

// ---------------------------------------------------------------------------------------------------------------
// Phases 1 and 3: catch-up of a backlog, two processes
// ---------------------------------------------------------------------------------------------------------------

interface CatchUpRun {
  seconds: number;
  changesPerSecond: number;
  /** CPU seconds spent while catching up (from "connected" to the cursor at the head). */
  consumerCpuSeconds: number;
  producerCpuSeconds: number;
  /** CPU seconds every other process spent meanwhile: PostgreSQL's backends, this process, and any other load. */
  otherCpuSeconds: number;
  /** How long the run waited for the machine to be quiet before starting. */
  waitedSeconds: number;
  /** VmRSS once connected, before catching up: the process's fixed cost. */
  consumerStartRssMb: number;
  producerStartRssMb: number;
  consumerPeakRssMb: number;
  producerPeakRssMb: number;
  /** The largest VmRSS sampled while catching up (VmHWM also counts start-up). */
  consumerMaxSampledRssMb: number;
  producerMaxSampledRssMb: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function appliedSeq(port: number): Promise<number> {
  const response = await fetch(`http://127.0.0.1:${port}/api/sources`);
  const body = (await response.json()) as { sources: { cursor: { seq: number } }[] };
  return body.sources[0]?.cursor.seq ?? 0;
}

async function catchUpOnce(backlog: Backlog, label: string, verify: boolean): Promise<CatchUpRun> {
  const { driver } = backlog.template;
  const source = await cloneDb(backlog.template, `${label}_source`);
  const target = await newDb(driver, `${label}_target`);
  let consumer: Child | undefined;
  let producer: Child | undefined;
  try {
    consumer = new Child(`consumer`, SCRIPTS.consumer, [
      'start',
      '--auth',
      'none',
      '--port',
      '0',
      ...dbFlags(target),
      '--entities',
      ENTITIES_MODULE,
    ]);
    const listening = await consumer.waitFor('"consumer listening"', (l) => l.msg === 'consumer listening');
    const port = Number(listening.port);
    const waitedSeconds = await waitForQuiet();
    producer = new Child(`producer`, SCRIPTS.producer, [
      'start',
      '--url',
      `ws://127.0.0.1:${port}/oplog`,
      ...dbFlags(source),
      '--entities',
      ENTITIES_MODULE,
    ]);
    await producer.waitFor('"connected"', (l) => l.msg === 'connected');
    const started = performance.now();
    const cpu0 = { consumer: cpuSeconds(consumer.pid), producer: cpuSeconds(producer.pid), all: machineBusySeconds() };
    const startRss = { consumer: memoryMb(consumer.pid).rss, producer: memoryMb(producer.pid).rss };
    const sampled = { consumer: 0, producer: 0 };
    const sample = () => {
      sampled.consumer = Math.max(sampled.consumer, memoryMb(consumer!.pid).rss);
      sampled.producer = Math.max(sampled.producer, memoryMb(producer!.pid).rss);
    };
    const sampler = setInterval(sample, 200);
    const deadline = Date.now() + 15 * 60_000;
    try {
      while ((await appliedSeq(port)) < backlog.entries) {
        if (Date.now() > deadline) throw consumer.failure(`the cursor did not reach ${backlog.entries}`);
        if (consumer.child.exitCode !== null) throw consumer.failure('exited while catching up');
        if (producer.child.exitCode !== null) throw producer.failure('exited while catching up');
        await sleep(20);
      }
    } finally {
      clearInterval(sampler);
    }
    const seconds = (performance.now() - started) / 1000;
    sample();
    const cpu1 = { consumer: cpuSeconds(consumer.pid), producer: cpuSeconds(producer.pid), all: machineBusySeconds() };
    const memory = { consumer: memoryMb(consumer.pid), producer: memoryMb(producer.pid) };
    await producer.stop();
    await consumer.stop();
    // Warnings (a failed session, a retried trim) would explain a slow round: show them.
    for (const child of [consumer, producer]) {
      for (const line of child.lines.filter((l) => Number(l.level) >= 40))
        progress(`    ${child.label} warned: ${JSON.stringify(line)}`);
    }
    if (verify) await verifyReplica(source, target, backlog.entries);
    return {
      seconds: round3(seconds),
      changesPerSecond: Math.round(backlog.entries / seconds),
      consumerCpuSeconds: round2(cpu1.consumer - cpu0.consumer),
      producerCpuSeconds: round2(cpu1.producer - cpu0.producer),
      waitedSeconds,
      otherCpuSeconds: round2(cpu1.all - cpu0.all - (cpu1.consumer - cpu0.consumer) - (cpu1.producer - cpu0.producer)),
      consumerStartRssMb: round1(startRss.consumer),
      producerStartRssMb: round1(startRss.producer),
      consumerPeakRssMb: round1(memory.consumer.hwm),
      producerPeakRssMb: round1(memory.producer.hwm),
      consumerMaxSampledRssMb: round1(sampled.consumer),
      producerMaxSampledRssMb: round1(sampled.producer),
    };
  } finally {
    await producer?.stop();
    await consumer?.stop();
    await source.drop();
    await target.drop();
  }
}

/** The replica must hold exactly the source's rows. */
async function verifyReplica(source: Db, target: Db, entries: number): Promise<void> {
  const sums: Record<string, string>[] = [];
  for (const db of [source, target]) {
    const orm = await openOrm(dbConfig(db), { entities: [...pollsEntities, ...oplogEntities, ...consumerEntities] });
    try {
      sums.push(await tableChecksums(orm, ['Question']));
    } finally {
      await orm.close();
    }
  }
  const [a, b] = sums;
  if (JSON.stringify(a) !== JSON.stringify(b) || !a?.question?.startsWith(`${entries}:`)) {
    throw new Error(`replica differs from the source: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
  }
}

interface CatchUpResult {
  driver: Driver;
  entries: number;
  backlog: BacklogMethod;
  capturedByOrm: number;
  backlogBuildSeconds: number;
  runs: CatchUpRun[];
  medianChangesPerSecond: number;
  medianSeconds: number;
  medianConsumerCpuSeconds: number;
  medianProducerCpuSeconds: number;
  target: number;
  meetsTarget: boolean;
}

async function catchUp(driver: Driver): Promise<CatchUpResult> {
  progress(`${driver} catch-up: building a backlog of ${catchUpEntries} single-row transactions (${backlogMethod})`);
  const backlog = await buildBacklog(driver, catchUpEntries, backlogMethod);
  try {
    const runs: CatchUpRun[] = [];
    for (let round = 0; round < rounds; round++) {
      const run = await catchUpOnce(backlog, `catchup${round}`, round === 0);
      runs.push(run);
      progress(
        `  ${driver} catch-up round ${round + 1}/${rounds}: ${run.changesPerSecond} changes/s (${run.seconds} s; cpu consumer ${run.consumerCpuSeconds} s, producer ${run.producerCpuSeconds} s, others ${run.otherCpuSeconds} s)`,
      );
    }
    const rate = median(runs.map((r) => r.changesPerSecond));
    const target = driver === 'sqlite' ? TARGETS.catchUpSqlite : TARGETS.catchUpPostgres;
    return {
      driver,
      entries: catchUpEntries,
      backlog: backlog.method,
      capturedByOrm: backlog.capturedByOrm,
      backlogBuildSeconds: backlog.buildSeconds,
      runs,
      medianChangesPerSecond: rate,
      medianSeconds: median(runs.map((r) => r.seconds)),
      medianConsumerCpuSeconds: median(runs.map((r) => r.consumerCpuSeconds)),
      medianProducerCpuSeconds: median(runs.map((r) => r.producerCpuSeconds)),
      target,
      meetsTarget: rate >= target,
    };
  } finally {
    await backlog.template.drop();
  }
}

/**
 * What tsx adds to a process's RSS: the CLIs run from TypeScript source, and tsx's loader runs in a thread of
 * its own with its own V8 isolate. Measured on an idle script, with and without it (median of 3 each).
 */
async function tsxLoaderMb(): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'oplog-tsx-'));
  const script = join(dir, 'idle.mjs');
  writeFileSync(script, 'setTimeout(() => process.stdout.write(String(process.memoryUsage().rss)), 500);\n');
  const rssMb = (flags: string[]) =>
    new Promise<number>((resolve, reject) =>
      execFile(process.execPath, [...flags, script], { cwd: ROOT }, (error, stdout) =>
        error ? reject(error) : resolve(Number(stdout) / (1 << 20)),
      ),
    );
  try {
    const plain: number[] = [];
    const withTsx: number[] = [];
    for (let i = 0; i < 3; i++) {
      plain.push(await rssMb([]));
      withTsx.push(await rssMb(['--import', 'tsx']));
    }
    return round1(median(withTsx) - median(plain));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

interface MemoryResult {
  driver: Driver;
  entries: number;
  backlog: BacklogMethod;
  capturedByOrm: number;
  run: CatchUpRun;
  /** Of each process's RSS, what tsx's loader takes (it would not be there in a compiled deployment). */
  tsxLoaderMb: number;
  target: number;
  meetsTarget: boolean;
}

async function memory(driver: Driver): Promise<MemoryResult> {
  progress(`${driver} memory: building a backlog of ${memoryEntries} single-row transactions (bulk)`);
  const backlog = await buildBacklog(driver, memoryEntries, 'bulk');
  try {
    const run = await catchUpOnce(backlog, 'memory', false);
    const tsx = await tsxLoaderMb();
    progress(
      `  ${driver} memory: consumer ${run.consumerStartRssMb} → peak ${run.consumerPeakRssMb} MB, producer ${run.producerStartRssMb} → peak ${run.producerPeakRssMb} MB (tsx's loader: ${tsx} MB of each); ${run.changesPerSecond} changes/s`,
    );
    return {
      driver,
      entries: memoryEntries,
      backlog: backlog.method,
      capturedByOrm: backlog.capturedByOrm,
      run,
      tsxLoaderMb: tsx,
      target: TARGETS.peakRssMb,
      meetsTarget: run.consumerPeakRssMb <= TARGETS.peakRssMb && run.producerPeakRssMb <= TARGETS.peakRssMb,
    };
  } finally {
    await backlog.template.drop();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Phase 2: latency
// ---------------------------------------------------------------------------------------------------------------

interface LatencyRun {
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
  meanMs: number;
  /** CPU seconds of the writer process (app + capture + embedded producer) during the measured commits. */
  writerCpuSeconds: number;
  /** CPU seconds of this process (the consumer, and the bench's own small share) over the same time. */
  consumerCpuSeconds: number;
  /** CPU seconds every other process spent meanwhile: PostgreSQL's backends, and any other load. */
  otherCpuSeconds: number;
  waitedSeconds: number;
}

interface LatencyResult {
  driver: Driver;
  commits: number;
  ratePerSecond: number;
  producer: 'embedded in the writer process';
  runs: LatencyRun[];
  medianP50Ms: number;
  medianP95Ms: number;
  medianP99Ms: number;
  maxMs: number;
  targetP50Ms: number;
  targetP99Ms: number;
  meetsTarget: boolean;
}

/** Microseconds on CLOCK_MONOTONIC, the clock the writer process reads too. */
const nowUs = () => Number(process.hrtime.bigint() / 1000n);

async function latencyOnce(driver: Driver): Promise<LatencyRun> {
  const source = await newDb(driver, 'latency_source');
  const target = await newDb(driver, 'latency_target');
  // seq → the instant the consumer's transaction holding it committed.
  const durableAtUs = new Map<number, number>();
  let consumer: Consumer | undefined;
  let lastSeq = 0;
  const afterCommit: EventSubscriber = {
    afterTransactionCommit() {
      const at = nowUs();
      // The apply loop moves its cursor as soon as the commit's promise settles, which is before the next macrotask.
      setImmediate(() => {
        const seq = consumer?.sources()[0]?.cursor.seq ?? 0;
        for (let s = lastSeq + 1; s <= seq; s++) durableAtUs.set(s, at);
        lastSeq = Math.max(lastSeq, seq);
      });
    },
  };
  const orm = await openOrm(dbConfig(target), {
    entities: [...pollsEntities, ...consumerEntities],
    subscribers: [afterCommit],
  });
  let writer: Child | undefined;
  try {
    await orm.schema.updateSchema({ safe: true });
    consumer = createConsumer(orm, { port: 0, auth: 'none', logger: createLogger({ level: 'silent' }) });
    const { port } = await consumer.listen();
    const waitedSeconds = await waitForQuiet();
    const cpu0 = process.cpuUsage();
    const busy0 = machineBusySeconds();
    writer = new Child('writer', SCRIPTS.writer, [
      ...dbFlags(source),
      '--url',
      `ws://127.0.0.1:${port}/oplog`,
      '--commits',
      String(latencyCommits),
      '--rate',
      String(latencyRate),
    ]);
    const line = await writer.waitFor(
      'its result',
      (l) => 'result' in l,
      120_000 + (latencyCommits / latencyRate) * 2000,
    );
    const cpu = process.cpuUsage(cpu0);
    const busy = machineBusySeconds() - busy0;
    const result = line.result as {
      firstSeq: number;
      committedAtUs: number[];
      cpuSeconds: number;
      totalCpuSeconds: number;
    };
    const latenciesMs = result.committedAtUs.map((t0, i) => {
      const t1 = durableAtUs.get(result.firstSeq + i);
      if (t1 === undefined) throw new Error(`seq ${result.firstSeq + i} was acked but its commit was not seen`);
      return (t1 - t0) / 1000;
    });
    await writer.exited;
    const sorted = [...latenciesMs].sort((a, b) => a - b);
    const p = (q: number) => round2(sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!);
    return {
      p50Ms: p(0.5),
      p95Ms: p(0.95),
      p99Ms: p(0.99),
      maxMs: round2(sorted.at(-1)!),
      meanMs: round2(sorted.reduce((a, b) => a + b, 0) / sorted.length),
      writerCpuSeconds: round2(result.cpuSeconds),
      consumerCpuSeconds: round2((cpu.user + cpu.system) / 1e6),
      otherCpuSeconds: round2(busy - result.totalCpuSeconds - (cpu.user + cpu.system) / 1e6),
      waitedSeconds,
    };
  } finally {
    await writer?.stop();
    await consumer?.stop();
    await orm.close();
    await source.drop();
    await target.drop();
  }
}

async function latency(driver: Driver): Promise<LatencyResult> {
  progress(`${driver} latency: ${latencyCommits} commits at ${latencyRate}/s`);
  const runs: LatencyRun[] = [];
  for (let round = 0; round < rounds; round++) {
    const run = await latencyOnce(driver);
    runs.push(run);
    progress(
      `  ${driver} latency round ${round + 1}/${rounds}: p50 ${run.p50Ms} ms, p95 ${run.p95Ms} ms, p99 ${run.p99Ms} ms, max ${run.maxMs} ms (cpu consumer ${run.consumerCpuSeconds} s, writer ${run.writerCpuSeconds} s, others ${run.otherCpuSeconds} s)`,
    );
  }
  const result: LatencyResult = {
    driver,
    commits: latencyCommits,
    ratePerSecond: latencyRate,
    producer: 'embedded in the writer process',
    runs,
    medianP50Ms: median(runs.map((r) => r.p50Ms)),
    medianP95Ms: median(runs.map((r) => r.p95Ms)),
    medianP99Ms: median(runs.map((r) => r.p99Ms)),
    maxMs: Math.max(...runs.map((r) => r.maxMs)),
    targetP50Ms: TARGETS.latencyP50Ms,
    targetP99Ms: TARGETS.latencyP99Ms,
    meetsTarget: false,
  };
  result.meetsTarget = result.medianP50Ms <= TARGETS.latencyP50Ms && result.medianP99Ms <= TARGETS.latencyP99Ms;
  return result;
}

// ---------------------------------------------------------------------------------------------------------------

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const round1 = (x: number) => Math.round(x * 10) / 10;
const round2 = (x: number) => Math.round(x * 100) / 100;
const round3 = (x: number) => Math.round(x * 1000) / 1000;
/** The result as a multiple of its target: ≥ 1 is good for a rate, ≤ 1 for a latency or a size. */
const vs = (value: number, target: number) => `${(value / target).toFixed(2)}×`;

async function main(): Promise<void> {
  const drivers = (args.drivers ?? '').split(',').filter(Boolean) as Driver[];
  const skipped: Partial<Record<Driver, string>> = {};
  if (drivers.includes('postgresql') && !(await postgresReachable())) {
    const why = 'PostgreSQL is not reachable at 127.0.0.1:5432';
    if (process.env.CI === 'true') throw new Error(`${why}, and CI=true requires the PostgreSQL benchmark`);
    skipped.postgresql = why;
    drivers.splice(drivers.indexOf('postgresql'), 1);
    progress(`skipping PostgreSQL: ${why}`);
  }

  const started = performance.now();
  const catchUpResults: CatchUpResult[] = [];
  const latencyResults: LatencyResult[] = [];
  const memoryResults: MemoryResult[] = [];
  for (const driver of drivers) {
    if (phases.has('catchup')) catchUpResults.push(await catchUp(driver));
    if (phases.has('latency')) latencyResults.push(await latency(driver));
    if (phases.has('memory')) memoryResults.push(await memory(driver));
  }
  const totalSeconds = round1((performance.now() - started) / 1000);

  if (json) {
    out(
      JSON.stringify({
        node: process.version,
        cpus: cpus().length,
        rounds,
        totalSeconds,
        catchUp: catchUpResults,
        latency: latencyResults,
        memory: memoryResults,
        targets: TARGETS,
        skipped,
      }),
    );
    return;
  }
  const rows: Record<string, string>[] = [];
  const ok = (yes: boolean) => (yes ? 'yes' : 'NO');
  for (const r of catchUpResults) {
    rows.push({
      driver: r.driver,
      measure: `catch-up of ${r.entries.toLocaleString('en')} single-row txs (${r.backlog} backlog), median of ${r.runs.length}`,
      result: `${r.medianChangesPerSecond.toLocaleString('en')} changes/s (${r.medianSeconds} s)`,
      target: `≥ ${r.target.toLocaleString('en')}/s`,
      'vs target': vs(r.medianChangesPerSecond, r.target),
      'cpu s (consumer / producer)': `${r.medianConsumerCpuSeconds} / ${r.medianProducerCpuSeconds}`,
      ok: ok(r.meetsTarget),
    });
  }
  for (const r of latencyResults) {
    rows.push({
      driver: r.driver,
      measure: `latency, ${r.commits} commits at ${r.ratePerSecond}/s, producer embedded, median of ${r.runs.length}`,
      result: `p50 ${r.medianP50Ms} / p95 ${r.medianP95Ms} / p99 ${r.medianP99Ms} ms (max ${r.maxMs})`,
      target: `p50 ≤ ${r.targetP50Ms}, p99 ≤ ${r.targetP99Ms} ms`,
      'vs target': `p50 ${vs(r.medianP50Ms, r.targetP50Ms)}, p99 ${vs(r.medianP99Ms, r.targetP99Ms)}`,
      'cpu s (consumer / producer)': `${median(r.runs.map((x) => x.consumerCpuSeconds))} / ${median(r.runs.map((x) => x.writerCpuSeconds))} (writer)`,
      ok: ok(r.meetsTarget),
    });
  }
  for (const r of memoryResults) {
    rows.push({
      driver: r.driver,
      measure: `peak RSS while ${r.entries.toLocaleString('en')} changes catch up (${r.run.changesPerSecond.toLocaleString('en')}/s)`,
      result: `consumer ${r.run.consumerPeakRssMb} MB (${r.run.consumerStartRssMb} at start), producer ${r.run.producerPeakRssMb} MB (${r.run.producerStartRssMb}); tsx's loader ${r.tsxLoaderMb} MB of each`,
      target: `≤ ${r.target} MB each`,
      'vs target': `${vs(r.run.consumerPeakRssMb, r.target)} / ${vs(r.run.producerPeakRssMb, r.target)}`,
      'cpu s (consumer / producer)': `${r.run.consumerCpuSeconds} / ${r.run.producerCpuSeconds}`,
      ok: ok(r.meetsTarget),
    });
  }
  console.table(rows);
  for (const [driver, why] of Object.entries(skipped)) console.log(`${driver} skipped: ${why}`);
  if (catchUpResults.some((r) => r.backlog === 'bulk') || memoryResults.length > 0) {
    console.log(
      'bulk backlog: the first 200 transactions through the ORM with capture, checked byte for byte against the bulk writer, which wrote the rest',
    );
  }
  console.log(`${totalSeconds} s in all`);
}

await main();
