import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { OplogCapture } from '@oplog/capture';
import { Choice, Question, Tag } from '@oplog/demo/entities';
import { describe, expect } from 'vitest';
import type { CliProcess, LogLine } from '../support/cli.js';
import { type Pairing, pairingCases } from '../support/pairings.js';
import {
  expectExit,
  harnessPerTest,
  type StreamHarness,
  sleep,
  waitForConvergence,
  waitForLogs,
} from '../support/stream-harness.js';

/** 1,250 questions with 3 choices each, plus 20 tags: 5,020 rows from before capture was installed. */
const OLD_QUESTIONS = 1250;
const OLD_CHOICES = 3;
const OLD_ROWS = OLD_QUESTIONS * (1 + OLD_CHOICES) + 20;
/** Small pages, one in flight: a snapshot of OLD_ROWS takes about 50 round trips, long enough to act in the middle. */
const SLOW_PAGES = { OPLOG_BATCH__MAX_ENTRIES: '100', OPLOG_WINDOW__FRAMES: '1' };
const QUICK_RECONNECT = { OPLOG_BACKOFF__MAX_MS: '500' };
const TIMEOUT = 180_000;
const WITH_NOTE = fileURLToPath(new URL('../fixtures/polls-with-note.ts', import.meta.url));
const WITHOUT_CHOICE = fileURLToPath(new URL('../fixtures/producer-without-choice.json', import.meta.url));

const lostWith = (code: string) => (line: LogLine) => line.msg === 'connection lost' && line.code === code;
const snapshotStarted = (reason: string) => (line: LogLine) =>
  line.msg === 'snapshot started' && line.reason === reason;

/** The pairings it runs on, one test file each. */
const SNAPSHOT_PAIRINGS: readonly Pairing[] = [
  ['sqlite', 'sqlite'],
  ['postgresql', 'postgresql'],
];

/**
 * The complete-view guarantees: data from before capture, resumable snapshots, restores from backup, trimmed
 * history, schema drift, an entity added to replication later, and fencing. Every part is a real process; every
 * case ends with the consumer's cursor at the source's head and both copies equal, table by table.
 */
export function snapshotSuite(pairing: Pairing): void {
  const [sourceDriver, targetDriver] = pairing;
  describe(`snapshot and incarnation ${sourceDriver} → ${targetDriver}`, () => {
    const createHarness = harnessPerTest();
    const it = pairingCases(pairing, SNAPSHOT_PAIRINGS);
    const setUp = () => createHarness(sourceDriver, targetDriver);

    it(
      'brings 5,000 rows from before capture to the consumer, with the writes made during the snapshot',
      async () => {
        const h = await setUp();
        await h.seedUncaptured(OLD_QUESTIONS, OLD_CHOICES);
        const consumer = await h.startConsumer();
        const load = h.load(1000, 200);
        await h.waitForHead(1);
        const producer = await h.startProducer(consumer.port, SLOW_PAGES);
        // Proof that the two overlap: capture logs new writes between two moments of the running snapshot.
        let headWhileSnapshotting: number | undefined;
        let headAfterSnapshot = 0;
        await pollUntil(async () => {
          const { snapshot } = await h.sourceStatus(consumer.port);
          if (snapshot) headWhileSnapshotting ??= await h.head();
          else if (headWhileSnapshotting !== undefined) headAfterSnapshot = await h.head();
          return headAfterSnapshot > 0;
        });
        expect(headAfterSnapshot, 'writes were made while the snapshot ran').toBeGreaterThan(headWhileSnapshotting!);
        await h.loadResult(load);

        await waitForConvergence(h);
        // Every old row, and the new ones written before the snapshot reached their place in key order.
        expect(producer.logs.find((l) => l.msg === 'snapshot requested')?.rows).toBeGreaterThanOrEqual(OLD_ROWS);
        const status = await h.sourceStatus(consumer.port);
        expect(status.lastResync?.reason).toBe('new-source');
        expect(status.snapshot).toBeUndefined();
      },
      TIMEOUT,
    );

    it(
      'resumes a snapshot killed half way without sending its first half again',
      async () => {
        const h = await setUp();
        await h.seedUncaptured(OLD_QUESTIONS, OLD_CHOICES);
        const consumer = await h.startConsumer();
        const proxy = await h.proxy(consumer.port);
        const first = await h.startProducer(proxy.port, SLOW_PAGES);
        await pollUntil(async () => ((await h.sourceStatus(consumer.port)).snapshot?.rows ?? 0) >= OLD_ROWS / 2);
        proxy.stall();
        await first.kill('SIGKILL');
        // A page that reached the consumer before the stall may still commit: read the progress once it is still.
        let staged = -1;
        await pollUntil(async () => {
          const rows = (await h.sourceStatus(consumer.port)).snapshot?.rows ?? 0;
          const still = rows === staged;
          staged = rows;
          return still;
        }, 300);
        expect(staged / OLD_ROWS, 'killed about half way').toBeGreaterThan(0.3);
        expect(staged / OLD_ROWS, 'killed about half way').toBeLessThan(0.8);

        const second = await h.startProducer(consumer.port, SLOW_PAGES);
        await waitForConvergence(h);
        const resumed = second.logs.find((l) => l.msg === 'snapshot requested');
        expect(resumed).toMatchObject({ resumed: true, rows: OLD_ROWS - staged });
        // Every row crossed once: the committed half was never sent again.
        expect(await h.metric(consumer.port, 'oplog_snapshot_rows_total')).toBe(OLD_ROWS);
      },
      TIMEOUT,
    );

    it(
      'converges exactly on a source restored from a backup, whether its new head passed the cursor or not',
      async () => {
        const h = await setUp();
        await h.scenario();
        const consumer = await h.startConsumer();
        let producer = await h.startProducer(consumer.port, QUICK_RECONNECT);
        await h.write(150);
        await waitForConvergence(h);

        for (const [round, changesAfterRestore] of [
          [1, 400],
          [2, 20],
        ] as const) {
          await stop(producer);
          await h.backupSource();
          producer = await h.startProducer(consumer.port, QUICK_RECONNECT);
          await h.write(200);
          const replicated = (await waitForConvergence(h)).cursor;
          await stop(producer);

          await h.restoreSource();
          await h.write(changesAfterRestore);
          const head = await h.head();
          // Round 1: the restored source's seqs pass the cursor again (only the entry at the cursor can tell);
          // round 2: its head stays behind the cursor.
          if (round === 1) expect(head).toBeGreaterThan(replicated);
          else expect(head).toBeLessThan(replicated);

          producer = await h.startProducer(consumer.port, QUICK_RECONNECT);
          await waitForConvergence(h);
          await waitForLogs(producer, lostWith('OPLOG_SOURCE_REWOUND'), 1);
          await waitForLogs(consumer.process, snapshotStarted('new-incarnation'), round);
        }
      },
      TIMEOUT,
    );

    it(
      'converges exactly on a source restored while its snapshot was half way, that then wrote more than it lost',
      async () => {
        const h = await setUp();
        await h.seedUncaptured(OLD_QUESTIONS, OLD_CHOICES);
        await h.write(20);
        await h.backupSource();
        await h.write(60);
        const consumer = await h.startConsumer();
        const first = await h.startProducer(consumer.port, SLOW_PAGES);
        await pollUntil(async () => ((await h.sourceStatus(consumer.port)).snapshot?.rows ?? 0) >= OLD_ROWS / 3);
        await first.kill('SIGKILL');
        const { cursor } = await h.sourceStatus(consumer.port);
        const producer = await restoreAndConverge(h, consumer.port, consumer.process, cursor.seq, 150);
        // Its pages so far and its cursor belong to the history the backup lost: never resumed, it starts over.
        expect(producer.logs.filter((line) => line.msg === 'snapshot requested' && line.resumed)).toEqual([]);
      },
      TIMEOUT,
    );

    it(
      'converges exactly on a source restored from a backup taken before its first sync, that then wrote more than it lost',
      async () => {
        const h = await setUp();
        await h.scenario();
        await h.write(20);
        await h.backupSource();
        await h.write(60);
        // The first sync is a snapshot (the app wrote before its producer ever connected); nothing streams after it,
        // so the cursor is the snapshot's own.
        const consumer = await h.startConsumer();
        const producer = await h.startProducer(consumer.port, QUICK_RECONNECT);
        const synced = (await waitForConvergence(h)).cursor;
        await waitForLogs(consumer.process, snapshotStarted('new-source'), 1);
        await stop(producer);

        await restoreAndConverge(h, consumer.port, consumer.process, synced, 150);
      },
      TIMEOUT,
    );

    it(
      'converges exactly on a source restored to before a history-trimmed snapshot, that then wrote more than it lost',
      async () => {
        const h = await setUp();
        await h.scenario();
        let consumer = await h.startConsumer();
        let producer = await h.startProducer(consumer.port, QUICK_RECONNECT);
        await waitForConvergence(h);
        await consumer.process.kill('SIGKILL');
        await h.write(100);
        await stop(producer);
        await h.backupSource();
        await h.write(100);
        // The outbox lost entries the consumer never applied: the next session resnapshots (history-trimmed).
        const orm = await h.sourceOrm();
        await orm.em.getConnection().execute('delete from oplog_entry where seq <= ?', [(await h.head()) - 50], 'run');
        consumer = await h.startConsumer();
        producer = await h.startProducer(consumer.port, QUICK_RECONNECT);
        const synced = (await waitForConvergence(h)).cursor;
        await waitForLogs(consumer.process, snapshotStarted('history-trimmed'), 1);
        await stop(producer);

        await restoreAndConverge(h, consumer.port, consumer.process, synced, 250);
      },
      TIMEOUT,
    );

    it(
      'snapshots a source whose outbox no longer reaches back to the cursor, instead of looping on a gap',
      async () => {
        const h = await setUp();
        await h.scenario();
        let consumer = await h.startConsumer();
        const producer = await h.startProducer(consumer.port, QUICK_RECONNECT);
        await waitForConvergence(h);
        await consumer.process.kill('SIGKILL');
        await h.write(300);
        await stop(producer);
        // The outbox lost entries the consumer never applied (a retention cap, an operator's cleanup).
        const orm = await h.sourceOrm();
        await orm.em.getConnection().execute('delete from oplog_entry where seq <= ?', [(await h.head()) - 50], 'run');

        consumer = await h.startConsumer();
        const resumed = await h.startProducer(consumer.port, QUICK_RECONNECT);
        await waitForConvergence(h);
        await waitForLogs(consumer.process, snapshotStarted('history-trimmed'), 1);
        expect(resumed.logs.filter(lostWith('OPLOG_SEQ_GAP'))).toEqual([]);
        expect(resumed.logs.filter(lostWith('OPLOG_HISTORY_TRIMMED'))).toEqual([]);
      },
      TIMEOUT,
    );

    it(
      'refuses a source whose schema differs, naming the entity and field, and applies the known fields on request',
      async () => {
        const h = await setUp();
        await h.scenario();
        const strict = await h.startConsumer(['--entities', WITH_NOTE]);
        const producer = await h.startProducer(strict.port, QUICK_RECONNECT);
        await waitForLogs(producer, lostWith('OPLOG_SCHEMA_MISMATCH'), 1);
        const refusal = producer.logs.find(lostWith('OPLOG_SCHEMA_MISMATCH'))!;
        expect(refusal.err).toContain('entity Choice: the source has no field note');
        expect(await h.cursor()).toBe(0);
        await stop(producer);
        await stop(strict.process);

        const lenient = await h.startConsumer(['--entities', WITH_NOTE], { OPLOG_SCHEMA_POLICY: 'apply-known' });
        await h.startProducer(lenient.port, QUICK_RECONNECT);
        await h.write(100);
        await waitForConvergence(h);
        const differences = await fetch(`http://127.0.0.1:${lenient.port}/api/sources`).then((r) => r.json());
        expect(differences.sources[0].schemaDifferences).toEqual([
          expect.objectContaining({ entity: 'Choice', field: 'note', kind: 'source' }),
        ]);
      },
      TIMEOUT,
    );

    it(
      'snapshots an entity added to replication later, while the others stream on',
      async () => {
        const h = await setUp();
        // The app's first version replicates questions and tags only; its choices stay local.
        await h.asApp(
          async (orm) => {
            await orm.schema.updateSchema();
            const em = orm.em.fork();
            const tag = em.create(Tag, { id: randomUUID(), label: 'first version' });
            for (let q = 0; q < 100; q++) {
              const question = em.create(Question, { id: randomUUID(), questionText: `v1 ${q}`, pubDate: new Date() });
              question.tags.add(tag);
              for (let c = 0; c < 3; c++) {
                em.create(Choice, { id: randomUUID(), question, choiceText: `v1 ${q}.${c}`, votes: c });
              }
            }
            await em.flush();
          },
          new OplogCapture({ exclude: ['Choice'] }),
        );
        const consumer = await h.startConsumer();
        const first = await h.startProducer(consumer.port, {}, 'ws', ['--config', WITHOUT_CHOICE]);
        // A new source: its first session snapshots the entities it replicates, then streams.
        const head = await h.head();
        await pollUntil(async () => {
          const status = await h.sourceStatus(consumer.port);
          return !status.snapshot && status.cursor.seq === head;
        });
        const count = async (entity: typeof Question | typeof Choice) => (await h.targetOrm()).em.fork().count(entity);
        expect(await count(Question)).toBe(100);
        expect(await count(Choice), 'no choice replicated yet').toBe(0);
        await stop(first);

        // The next version replicates choices too: its own writes stream, the 300 older choices come by snapshot.
        const load = h.load(400, 100);
        const second = await h.startProducer(consumer.port);
        await waitForLogs(consumer.process, snapshotStarted('new-entities'), 1);
        await h.loadResult(load);
        await waitForConvergence(h);
        expect(await count(Choice)).toBeGreaterThanOrEqual(300);
        const status = await h.sourceStatus(consumer.port);
        expect(status.lastResync?.reason).toBe('new-entities');
        expect(status.snapshot).toBeUndefined();
        expect(second.logs.find((l) => l.msg === 'snapshot requested')?.entities).toEqual(['Choice']);
      },
      TIMEOUT,
    );

    it(
      'fences a second producer of the same source while the first one lives, and lets it take over after',
      async () => {
        const h = await setUp();
        await h.scenario();
        const consumer = await h.startConsumer();
        const first = await h.startProducer(consumer.port, QUICK_RECONNECT);
        await waitForConvergence(h);
        const load = h.load(600, 100);
        const second = await h.startProducer(consumer.port, QUICK_RECONNECT);
        await waitForLogs(second, lostWith('OPLOG_SOURCE_BUSY'), 2);
        const lag = (await (await fetch(`http://127.0.0.1:${consumer.port}/api/lag`)).json()) as {
          sources: { state: string }[];
        };
        expect(lag.sources[0]?.state, 'the dashboard shows the source fenced').toBe('fenced');
        expect(second.logs.filter((l) => l.msg === 'connected')).toEqual([]);
        expect(first.logs.filter((l) => l.msg === 'connection lost')).toEqual([]);

        await first.kill('SIGKILL');
        await waitForLogs(second, (l) => l.msg === 'connected', 1);
        await h.loadResult(load);
        await waitForConvergence(h);
      },
      TIMEOUT,
    );
  });
}

/** SIGTERM, and the process drains and exits by itself. */
/**
 * Restores the source's backup, writes `writes` transactions on it (more than it lost: its head passes the consumer's
 * `synced` cursor), and expects the producer to be told rewound and the consumer to resnapshot it and converge.
 * Resolves with that producer.
 */
async function restoreAndConverge(
  h: StreamHarness,
  port: number,
  consumer: CliProcess,
  synced: number,
  writes: number,
): Promise<CliProcess> {
  await h.restoreSource();
  await h.write(writes);
  expect(await h.head(), 'the restored history passes the snapshot cursor').toBeGreaterThan(synced);
  const producer = await h.startProducer(port, QUICK_RECONNECT);
  await waitForConvergence(h);
  await waitForLogs(producer, lostWith('OPLOG_SOURCE_REWOUND'), 1);
  await waitForLogs(consumer, snapshotStarted('new-incarnation'), 1);
  return producer;
}

async function stop(cli: CliProcess): Promise<void> {
  await cli.kill('SIGTERM');
  await expectExit(cli, 'a stopped process');
}

/** Polls `check` often (to act at a precise point of a stream) until it holds; fails after 60 s. */
async function pollUntil(check: () => Promise<boolean>, everyMs = 20): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('the awaited state never came');
    await sleep(everyMs);
  }
}
