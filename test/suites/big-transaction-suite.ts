import { randomUUID } from 'node:crypto';
import type { MikroORM } from '@mikro-orm/core';
import { Choice, Question } from '@oplog/demo/entities';
import { describe, expect } from 'vitest';
import { expectSameAsCapture, writeQuestions } from '../support/bulk-transaction.js';
import { type Pairing, pairingCases } from '../support/pairings.js';
import { harnessPerTest, type StreamHarness, sleep, waitForConvergence } from '../support/stream-harness.js';
import type { TcpProxy } from '../support/tcp-proxy.js';

const TIMEOUT = 180_000;
/** Both sides hear nothing from each other while the proxy holds a transaction's parts (see inOneBurst). */
const PEER_TIMEOUT = 120_000;

/** The pairings it runs on, one test file each. */
const BIG_TRANSACTION_PAIRINGS: readonly Pairing[] = [
  ['sqlite', 'sqlite'],
  ['sqlite', 'postgresql'],
];

/**
 * Single source transactions bigger than one batch (the producer sends 1,000 entries a frame by default), through
 * the real CLIs: each goes out in `partial` parts, every part must be acked, and the consumer applies the
 * transaction whole, never a part of it, up to the cursor at the head.
 */
export function bigTransactionSuite(pairing: Pairing): void {
  const [sourceDriver, targetDriver] = pairing;
  describe(`single big transactions ${sourceDriver} → ${targetDriver} through the CLIs`, () => {
    const createHarness = harnessPerTest();
    const it = pairingCases(pairing, BIG_TRANSACTION_PAIRINGS);

    /** A source with a few rows, written through capture and checked against the bulk writer. */
    async function withSource(): Promise<StreamHarness> {
      const h = await createHarness(sourceDriver, targetDriver);
      await h.site.createSchema();
      // The sidecar reads while a bulk write of many seconds is open: in WAL mode it is not refused (SQLITE_BUSY).
      if (sourceDriver === 'sqlite') {
        await (await h.sourceOrm()).em.getConnection().execute('pragma journal_mode = wal');
      }
      await h.asApp((app) => expectSameAsCapture(app, 1));
      return h;
    }

    /**
     * That source, streaming through a proxy. The producer may have every part of a transaction in flight at once, so that `inOneBurst` delivers
     * them all in one write.
     */
    async function streaming(batchEntries: number): Promise<{ h: StreamHarness; proxy: TcpProxy }> {
      const h = await withSource();
      const consumer = await h.startConsumer([], { OPLOG_PEER_TIMEOUT_MS: String(PEER_TIMEOUT) });
      const proxy = await h.proxy(consumer.port);
      await h.startProducer(proxy.port, {
        OPLOG_BATCH__MAX_ENTRIES: String(batchEntries),
        OPLOG_WINDOW__FRAMES: '1000',
        OPLOG_WINDOW__BYTES: String(256 << 20),
        OPLOG_PEER_TIMEOUT_MS: String(PEER_TIMEOUT),
      });
      await waitForConvergence(h);
      return { h, proxy };
    }

    // The last part of each is a few entries only: small enough to come in the same TCP read as the part before it,
    // which is what left it queued and never applied before SourceReplay restarted its loop for it.
    // Through ORM flushes with capture: one question and its choices, all in one transaction.
    for (const [size, batchEntries] of [
      [1001, 1000],
      [2002, 1000],
      [10_000, 1111],
    ] as const) {
      it(
        `applies one transaction of ${size.toLocaleString('en')} entries written through the ORM`,
        async () => {
          const { h, proxy } = await streaming(batchEntries);
          const seen = watchCount(await h.targetOrm(), 'choice');
          await inOneBurst(proxy, () =>
            h.asApp((app) =>
              app.em.fork().transactional(async (em) => {
                const question = em.create(Question, { id: randomUUID(), questionText: 'Big', pubDate: new Date() });
                for (let i = 1; i < size; i++) {
                  em.create(Choice, { id: randomUUID(), question, choiceText: `choice ${i}`, votes: i });
                }
              }),
            ),
          );
          await waitForConvergence(h, 90_000);
          expect(await seen.stop(), 'choice counts seen on the consumer: the transaction whole or nothing').toEqual([
            size - 1,
          ]);
        },
        TIMEOUT,
      );
    }

    it(
      'applies one transaction of 100,000 entries written to the outbox in bulk',
      async () => {
        // Parts of 1,111 entries: 90 of them, then 10.
        const { h, proxy } = await streaming(1111);
        const size = 100_000;
        const seen = watchCount(await h.targetOrm(), 'question');
        await inOneBurst(proxy, () =>
          h.asApp((app) => writeQuestions(app, { first: 1001, last: 1000 + size, op: 'insert' })),
        );
        await waitForConvergence(h, 150_000);
        // The two rows left by the capture check, then the whole transaction.
        expect(await seen.stop(), 'question counts seen on the consumer').toEqual([size + 2]);
      },
      TIMEOUT,
    );

    it(
      'applies an update of 30,000 rows whole after the consumer is SIGKILLed with part of it staged',
      async () => {
        const h = await withSource();
        // Slowed down, so that the kill finds parts of the transaction staged and the transaction not applied.
        const first = await h.startConsumer([], { OPLOG_MAX_ENTRIES_PER_SECOND: '5000' });
        const proxy = await h.proxy(first.port);
        await h.startProducer(proxy.port, { OPLOG_BACKOFF__MAX_MS: '500' });
        const size = 30_000;
        const range = { first: 1001, last: 1000 + size };
        await h.asApp((app) => writeQuestions(app, { ...range, op: 'insert' }));
        await waitForConvergence(h, 90_000);

        const target = await h.targetOrm();
        const seen = watchCount(target, `question where question_text like '%(edit 1)?'`);
        const before = await h.cursor();
        await h.asApp((app) => writeQuestions(app, { ...range, op: 'update', revision: 1 }));
        const staged = () => countRows(target, 'oplog_open_entry');
        await h.waitFor(async () => (await staged()) >= 5000, 60_000);
        expect(await h.cursor(), 'the cursor while the transaction is staged').toBe(before);
        await first.process.kill('SIGKILL');
        expect(await staged(), 'parts staged when the consumer died').toBeGreaterThanOrEqual(5000);

        const second = await h.startConsumer();
        proxy.retarget(second.port);
        await waitForConvergence(h, 90_000);
        // The capture check's two rows are at their first edit already.
        expect(await seen.stop(), 'rows updated as the consumer showed them: all or none').toEqual([size + 2]);
        expect(await staged(), 'parts left staged').toBe(0);
      },
      TIMEOUT,
    );
  });
}

async function countRows(orm: MikroORM, rows: string): Promise<number> {
  const [row] = await orm.em.getConnection().execute<{ n: number | string }[]>(`select count(*) as n from ${rows}`);
  return Number(row?.n ?? 0);
}

/**
 * Runs `write` while the proxy holds what the producer sends, until the producer has sent every part (hardly more
 * for a second), then lets it all through in one write.
 */
async function inOneBurst(proxy: TcpProxy, write: () => Promise<unknown>): Promise<void> {
  proxy.hold();
  try {
    await write();
    // Pings and heartbeats go on: a few hundred bytes a second is the producer done with the transaction (every
    // transaction here is more than 100 kB).
    const deadline = Date.now() + 60_000;
    let bytes: number;
    do {
      if (Date.now() > deadline) throw new Error(`the producer sent ${proxy.heldBytes} bytes of the transaction only`);
      bytes = proxy.heldBytes;
      await sleep(1000);
    } while (proxy.heldBytes < 100_000 || proxy.heldBytes - bytes > 4096);
  } finally {
    proxy.hold(false);
  }
}

/**
 * Polls the consumer's count of `rows` (a table, maybe with a where clause) until stopped; `stop()` resolves with
 * every count seen other than the first one (the rows before the transaction), in order of first sight.
 */
function watchCount(orm: MikroORM, rows: string): { stop(): Promise<number[]> } {
  const counts: number[] = [];
  let running = true;
  const polling = (async () => {
    while (running) {
      const n = await countRows(orm, rows);
      if (!counts.includes(n)) counts.push(n);
      await sleep(20);
    }
  })();
  return {
    async stop() {
      running = false;
      await polling;
      return counts.slice(1);
    },
  };
}
