import { randomUUID } from 'node:crypto';
import type { MikroORM } from '@mikro-orm/core';
import { Choice, Question } from '@oplog/demo/entities';
import { describe, expect } from 'vitest';
import { writeBacklog } from '../support/bulk-transaction.js';
import type { CliProcess, LogLine } from '../support/cli.js';
import { type Pairing, pairingCases } from '../support/pairings.js';
import {
  expectExit,
  harnessPerTest,
  type LoadResult,
  type StreamHarness,
  sleep,
  waitForConvergence,
  waitForLogs,
} from '../support/stream-harness.js';

/** Transactions of the loads during which processes die or connections break: 1.6 changes each on average. */
const LOAD = 2000;
const SHORT_LOAD = 1000;
/**
 * Changes made before the producer may connect: the consumer then lags behind, with frames sent but not yet
 * committed when a process dies, which is what a kill has to find to prove anything about resending and trimming.
 */
const BACKLOG = 1500;
/** Lets a producer reach the consumer soon after the proxy lets it through. */
const QUICK_RECONNECT = { OPLOG_BACKOFF__MAX_MS: '500' };
/** Written in bulk, in 500 transactions of 20 rows (inserts, updates and deletes). */
const BACKLOG_CHANGES = 10_000;
/** Generous: a test fails on an assertion (waitForConvergence waits 60 s) rather than on a timeout. */
const TIMEOUT = 120_000;

const lost = (line: LogLine) => line.msg === 'connection lost';
const connected = (line: LogLine) => line.msg === 'connected';

/** The pairings it runs on, one test file each. */
const STREAM_PAIRINGS: readonly Pairing[] = [
  ['sqlite', 'sqlite'],
  ['sqlite', 'postgresql'],
  ['postgresql', 'postgresql'],
];

/**
 * End-to-end streaming guarantees, with every part a real process: `oplog-demo` writes the local (source)
 * database, `oplog-producer` streams its outbox as a sidecar, `oplog-consumer` replays it into the central
 * (target) database. Processes are killed, connections cut, and the consumer kept away; every case ends with the
 * consumer's cursor at the source's head and both copies equal, table by table.
 */
export function streamSuite(pairing: Pairing): void {
  const [sourceDriver, targetDriver] = pairing;
  describe(`stream ${sourceDriver} → ${targetDriver} through the CLIs`, () => {
    const createHarness = harnessPerTest();
    const it = pairingCases(pairing, STREAM_PAIRINGS);
    const setUp = () => createHarness(sourceDriver, targetDriver);

    it(
      'replicates the seed scenario exactly, row by row',
      async () => {
        const h = await setUp();
        const [ids, consumer] = await Promise.all([h.scenario(), h.startConsumer()]);
        await h.startProducer(consumer.port);

        await waitForConvergence(h);
        const source = await pollRows(await h.sourceOrm());
        // The scenario deleted a choice and saved it again under the same id: both choices exist, once each.
        expect(source.questions.map((q) => q.id)).toEqual([ids.questionId]);
        expect(source.choices.map((c) => c.id)).toEqual([...ids.choiceIds].sort());
        expect(await pollRows(await h.targetOrm())).toEqual(source);
      },
      TIMEOUT,
    );

    it(
      'streams a transaction larger than a frame in parts, and applies it whole',
      async () => {
        const h = await setUp();
        await h.scenario();
        // Frames of at most 256 KiB on the consumer: the 3,000-row transaction below is about 1 MB.
        const consumer = await h.startConsumer([], { OPLOG_MAX_PAYLOAD: String(256 << 10) });
        await h.startProducer(consumer.port, { OPLOG_BATCH__MAX_ENTRIES: '500', OPLOG_BATCH__MAX_BYTES: '200000' });
        await waitForConvergence(h);
        const target = await h.targetOrm();
        const choices = async () => (await target.em.fork().count(Choice, {})) as number;
        const before = await choices();
        const big = 3000;
        const writing = h.asApp((app) =>
          app.em.fork().transactional(async (em) => {
            const question = em.create(Question, { id: randomUUID(), questionText: 'Big one', pubDate: new Date() });
            for (let i = 0; i < big; i++) {
              em.create(Choice, { id: randomUUID(), question, choiceText: `choice ${i} ${'x'.repeat(150)}`, votes: i });
            }
          }),
        );
        // The consumer shows the transaction whole or not at all, never in part.
        const seen = new Set<number>();
        for (let added = (await choices()) - before; added < big; added = (await choices()) - before) {
          seen.add(added);
          await sleep(5);
        }
        await writing;
        expect([...seen].filter((n) => n !== 0)).toEqual([]);
        await waitForConvergence(h);
      },
      TIMEOUT,
    );

    it(
      'converges when the producer starts before the consumer is reachable',
      async () => {
        const h = await setUp();
        await h.scenario();
        const proxy = await h.proxy(0);
        proxy.refuse();
        // Kept short so that the test does not wait out a long backoff step once the consumer is there.
        const producer = await h.startProducer(proxy.port, { OPLOG_BACKOFF__MAX_MS: '1000' });
        const result = await h.write(100);
        expect(result.transactions).toBe(100);
        // It kept trying while nobody answered.
        await waitForLogs(producer, lost, 2);

        const consumer = await h.startConsumer();
        proxy.retarget(consumer.port);
        proxy.refuse(false);
        await waitForConvergence(h);
        expect(producer.logs.filter(connected).length).toBeGreaterThanOrEqual(1);
      },
      TIMEOUT,
    );

    it(
      'converges with no batch applied twice after the consumer is SIGKILLed mid-stream',
      async () => {
        const h = await setUp();
        const [, first] = await Promise.all([h.scenario(), h.startConsumer()]);
        const load = h.load(LOAD);
        // The producer keeps one URL; the proxy follows the consumer to the port its restart binds.
        const proxy = await h.proxy(first.port);
        proxy.refuse();
        await h.startProducer(proxy.port, QUICK_RECONNECT);
        await h.waitForHead(BACKLOG);
        proxy.refuse(false);

        const killedAt = await h.waitForCursor(first.port, 500);
        const headAtKill = await h.head();
        expectRunning(load, 'the load was still running when the consumer was killed');
        await first.process.kill('SIGKILL');
        expect(headAtKill, 'the consumer was behind when it was killed').toBeGreaterThan(killedAt);
        const second = await h.startConsumer();
        proxy.retarget(second.port);

        const result = await h.loadResult(load);
        await waitForConvergence(h);
        expect(
          (await h.sourceStatus(second.port)).appliedEntries,
          'the restarted consumer applied the rest',
        ).toBeGreaterThan(0);
        await expectVotes(h, result);
      },
      TIMEOUT,
    );

    it(
      'converges after the producer is SIGKILLed mid-stream and restarted',
      async () => {
        const h = await setUp();
        const [, consumer] = await Promise.all([h.scenario(), h.startConsumer()]);
        const load = h.load(LOAD);
        const proxy = await h.proxy(consumer.port);
        proxy.refuse();
        const first = await h.startProducer(proxy.port, QUICK_RECONNECT);
        await h.waitForHead(BACKLOG);
        proxy.refuse(false);

        const killedAt = await h.waitForCursor(consumer.port, 500);
        const headAtKill = await h.head();
        expectRunning(load, 'the load was still running when the producer was killed');
        await first.kill('SIGKILL');
        expect(headAtKill, 'the consumer was behind when the producer was killed').toBeGreaterThan(killedAt);
        // The app keeps writing with no producer at all for a moment.
        await sleep(500);
        const second = await h.startProducer(proxy.port);

        const result = await h.loadResult(load);
        await waitForConvergence(h);
        await waitForLogs(second, connected, 1);
        await expectVotes(h, result);
      },
      TIMEOUT,
    );

    it(
      'converges while the connection is cut again and again, also in the middle of a frame',
      async () => {
        const h = await setUp();
        const [, consumer] = await Promise.all([h.scenario(), h.startConsumer()]);
        // Paced, so that the load outlasts several cuts however fast the machine is.
        const load = h.load(SHORT_LOAD, 200);
        const proxy = await h.proxy(consumer.port);
        const producer = await h.startProducer(proxy.port);

        await h.waitForCursor(consumer.port, 200);
        let cuts = 0;
        while (load.child.exitCode === null && cuts < 12) {
          // A stall first lets frames pile up unacked, so that each cut loses some that must be sent again.
          proxy.stall();
          await sleep(300);
          if (cuts % 2 === 0) proxy.cut();
          else void proxy.cutMidFrame();
          proxy.stall(false);
          cuts++;
          await sleep(300);
        }
        const result = await h.loadResult(load);
        expect(cuts, 'connections were cut during the load').toBeGreaterThanOrEqual(4);
        await waitForConvergence(h);
        expect(producer.logs.filter(lost).length, 'the producer saw its connections break').toBeGreaterThanOrEqual(
          cuts / 2,
        );
        await expectVotes(h, result);
      },
      TIMEOUT,
    );

    it(`catches up on ${BACKLOG_CHANGES} changes made while the consumer was down, then trims the outbox`, async () => {
      const h = await setUp();
      const [, first] = await Promise.all([h.scenario(), h.startConsumer()]);
      const proxy = await h.proxy(first.port);
      // A short reconnect backoff: the consumer stays away while the backlog is written, and the test should
      // not wait out a full 30 s backoff step once it is back.
      await h.startProducer(proxy.port, { OPLOG_BACKOFF__MAX_MS: '2000' });
      await waitForConvergence(h);
      await first.process.kill('SIGTERM');
      await expectExit(first.process, 'oplog-consumer after SIGTERM');

      await writeBacklog(await h.sourceOrm(), BACKLOG_CHANGES);
      const backlog = (await h.head()) - (await h.cursor());
      expect(backlog, 'changes made while the consumer was down').toBeGreaterThanOrEqual(BACKLOG_CHANGES);
      expect(await h.outboxSize(), 'the outbox keeps every change not acked').toBeGreaterThanOrEqual(backlog);

      const second = await h.startConsumer();
      proxy.retarget(second.port);
      await waitForConvergence(h, 90_000);
      // Everything acked leaves the outbox, also the last acks of the catch-up, but for the last acked entry: it stays
      // as proof of which history the consumer's cursor belongs to.
      await h.waitFor(async () => (await h.outboxSize()) === 1, 15_000);
      expect(await h.outboxSize(), 'entries left in the outbox after every one was acked').toBe(1);
    }, 180_000);

    it(
      'drains and exits with status 0 on SIGTERM, consumer and producer alike',
      async () => {
        const h = await setUp();
        const [, first] = await Promise.all([h.scenario(), h.startConsumer()]);
        // Paced, so that the load still runs when the second process is stopped, however fast (or busy) the
        // machine is: a consumer restart and the producer's backoff can take several seconds on a loaded one.
        const load = h.load(LOAD, 100);
        const proxy = await h.proxy(first.port);
        const producer = await h.startProducer(proxy.port);

        const stoppedAt = await h.waitForCursor(first.port, 300);
        expectRunning(load, 'the load was still running when the consumer was stopped');
        await first.process.kill('SIGTERM');
        await expectExit(first.process, 'oplog-consumer after SIGTERM');
        const second = await h.startConsumer();
        proxy.retarget(second.port);

        await h.waitForCursor(second.port, stoppedAt + 300);
        expectRunning(load, 'the load was still running when the producer was stopped');
        await producer.kill('SIGTERM');
        await expectExit(producer, 'oplog-producer after SIGTERM');
        await h.startProducer(proxy.port);

        const result = await h.loadResult(load);
        await waitForConvergence(h);
        await expectVotes(h, result);
        for (const stopped of [first.process, producer]) {
          expect(
            stopped.logs.filter((line) => Number(line.level) >= 50),
            'errors logged while stopping',
          ).toEqual([]);
        }
      },
      TIMEOUT,
    );
  });
}

/** Every question and choice, field by field, in id order. */
async function pollRows(orm: MikroORM) {
  const em = orm.em.fork();
  const questions = await em.find(Question, {}, { orderBy: { id: 'asc' } });
  const choices = await em.find(Choice, {}, { orderBy: { id: 'asc' } });
  return {
    questions: questions.map((q) => ({ id: q.id, questionText: q.questionText, pubDate: q.pubDate.getTime() })),
    choices: choices.map((c) => ({ id: c.id, question: c.question.id, choiceText: c.choiceText, votes: c.votes })),
  };
}

/**
 * The counter workload: each vote reads a count, adds one and saves it, so the sum of the counts is the number of
 * votes the load cast (on choices it did not delete later). A batch applied twice out of order, or one skipped,
 * changes the sum on the consumer.
 */
async function expectVotes(h: StreamHarness, result: LoadResult): Promise<void> {
  expect(result.votes, 'the load cast votes').toBeGreaterThan(0);
  const sums = await h.voteSums();
  expect(sums.source, 'sum of Choice.votes on the source vs the votes the load reports').toBe(result.votes);
  expect(sums.target, 'sum of Choice.votes on the consumer vs on the source: a vote applied twice or lost').toBe(
    sums.source,
  );
}

function expectRunning(cli: CliProcess, what: string): void {
  expect(cli.child.exitCode, what).toBeNull();
}
