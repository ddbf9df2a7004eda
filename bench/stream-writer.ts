/**
 * The source side of bench/stream.ts's latency phase, run as its own process: the demo's polls app with capture
 * and an embedded producer, committing single-row transactions at a steady rate.
 *
 * It records, on the machine-wide monotonic clock (CLOCK_MONOTONIC, the same in every process), the instant each
 * commit completed, from an afterTransactionCommit hook registered before capture's (so before capture wakes the
 * producer). The outbox starts empty, so commit k holds seq k. When the consumer has acked every commit, it prints
 * one line on stdout: {"result":{...}}. Everything else goes to stderr.
 */
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import type { EventSubscriber, TransactionEventArgs } from '@mikro-orm/core';
import { OplogCapture, oplogEntities } from '@oplog/capture';
import { createProducer } from '@oplog/producer';
import { createLogger, type DbConfig, openOrm } from '@oplog/runtime';
import { pollsEntities, Question } from '../apps/demo/src/entities.js';

const { values: args } = parseArgs({
  options: {
    'db-driver': { type: 'string', default: 'sqlite' },
    'db-name': { type: 'string' },
    'db-url': { type: 'string' },
    url: { type: 'string' },
    commits: { type: 'string', default: '1000' },
    warmup: { type: 'string', default: '100' },
    rate: { type: 'string', default: '100' },
  },
});
const commits = Number(args.commits);
const warmup = Number(args.warmup);
const intervalMs = 1000 / Number(args.rate);

/** Microseconds on CLOCK_MONOTONIC: comparable across processes on one Linux machine. */
const nowUs = () => Number(process.hrtime.bigint() / 1000n);

let recording = false;
const committedAtUs: number[] = [];
const commitHook: EventSubscriber = {
  afterTransactionCommit(_args: TransactionEventArgs) {
    if (recording) committedAtUs.push(nowUs());
  },
};

const db: DbConfig = { driver: args['db-driver'] as DbConfig['driver'], name: args['db-name'], url: args['db-url'] };
const orm = await openOrm(db, {
  entities: [...pollsEntities, ...oplogEntities],
  // The hook first: EventManager runs subscribers in registration order, and capture's wakes the producer.
  subscribers: [commitHook, new OplogCapture()],
});
await orm.schema.updateSchema({ safe: true });
const producer = createProducer(orm, { url: args.url!, logger: createLogger({ level: 'silent' }) });
const running = producer.run();

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
async function waitFor(what: string, done: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline)
      throw new Error(`writer: timed out waiting for ${what}: ${JSON.stringify(producer.status())}`);
    await sleep(2);
  }
}

/** `count` single-row transactions, the i-th started at start + i × interval (so a slow one does not shift the rest). */
async function commitPaced(count: number, from: number): Promise<void> {
  const start = performance.now();
  for (let i = 0; i < count; i++) {
    const wait = start + i * intervalMs - performance.now();
    if (wait > 0) await sleep(wait);
    const em = orm.em.fork();
    em.create(Question, { id: randomUUID(), questionText: `Question ${from + i}?`, pubDate: new Date() });
    await em.flush();
  }
}

await waitFor('the consumer to welcome the producer', () => producer.status().state === 'streaming');
// Warm-up commits (seqs 1..warmup) let the JIT and both ends settle; they are not measured.
await commitPaced(warmup, 1);
await waitFor('the warm-up to be acked', () => producer.status().ackedSeq >= warmup);
const cpuBefore = process.cpuUsage();
recording = true;
await commitPaced(commits, warmup + 1);
recording = false;
await waitFor('every commit to be acked', () => producer.status().ackedSeq >= warmup + commits);
const cpu = process.cpuUsage(cpuBefore);
await producer.drain();
await producer.stop();
await running;
await orm.close();

if (committedAtUs.length !== commits)
  throw new Error(`writer: saw ${committedAtUs.length} commits, expected ${commits}`);
process.stdout.write(
  `${JSON.stringify({
    result: {
      firstSeq: warmup + 1,
      committedAtUs,
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      totalCpuSeconds: (process.cpuUsage().user + process.cpuUsage().system) / 1e6,
      peakRssMb: process.resourceUsage().maxRSS / 1024,
    },
  })}\n`,
);
