/**
 * The source side of our latency phase (bench/lib/pipeline-latency.ts), run as its own process: the demo's polls app with capture
 * and an embedded producer, committing single-row transactions at a steady rate.
 *
 * It records, on the machine-wide monotonic clock (CLOCK_MONOTONIC, the same in every process), the instant each
 * commit completed, from an afterTransactionCommit hook registered before capture's (so before capture wakes the
 * producer). The outbox starts empty, so commit k holds seq k. Once the warm-up is acked it prints
 * {"msg":"measuring"}; when the consumer has acked every measured commit, one line {"result":{...}}, and then it
 * waits for SIGTERM (so that the bench can read its CPU time first). Everything else goes to stderr.
 */
import { parseArgs } from 'node:util';
import type { EventSubscriber, TransactionEventArgs } from '@mikro-orm/core';
import { OplogCapture, oplogEntities } from '@oplog/capture';
import { pollsEntities } from '@oplog/demo/entities';
import { createProducer } from '@oplog/producer';
import { createLogger, type DbConfig, openOrm } from '@oplog/runtime';
import { waitUntil } from './lib/stats.js';
import { commitPaced } from './lib/workloads.js';

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
const rate = Number(args.rate);

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

const waitFor = (what: string, done: () => boolean) =>
  waitUntil(what, done, 60_000, 2).catch((error: Error) => {
    throw new Error(`writer: ${error.message}: ${JSON.stringify(producer.status())}`);
  });

await waitFor('the consumer to welcome the producer', () => producer.status().state === 'streaming');
// Warm-up commits (seqs 1..warmup) let the JIT and both ends settle; they are not measured.
await commitPaced(orm, warmup, rate, 'Warm-up');
await waitFor('the warm-up to be acked', () => producer.status().ackedSeq >= warmup);
process.stdout.write(`${JSON.stringify({ msg: 'measuring' })}\n`);
recording = true;
await commitPaced(orm, commits, rate, 'Question');
recording = false;
await waitFor('every commit to be acked', () => producer.status().ackedSeq >= warmup + commits);
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
    },
  })}\n`,
);
// Up to 30 s, so that a writer whose bench died does not linger.
await new Promise((resolve) => {
  process.once('SIGTERM', resolve);
  setTimeout(resolve, 30_000);
});
