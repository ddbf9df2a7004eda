import { randomUUID } from 'node:crypto';
import { Choice, Question } from '@oplog/demo/entities';
import { MAX_FRAME_DEPTH } from '@oplog/protocol';
import { describe, expect, it } from 'vitest';
import { BareProducer, fingerprintOf, helloOf } from './support/bare-producer.js';
import type { LogLine } from './support/cli.js';
import { harnessPerTest, REPLICATED, waitForConvergence } from './support/stream-harness.js';

const TIMEOUT = 120_000;
const MAX_PAYLOAD = 16_384;
const refused = (code: string) => (line: LogLine) => line.msg === 'session refused' && line.code === code;

/** A one-entry batch whose pk is an array nested `levels` deep, as text (JSON.stringify of it would overflow). */
function deepBatch(source: string, incarnation: string, levels: number): string {
  const pk = `{"id":${'['.repeat(levels)}"x"${']'.repeat(levels)}}`;
  const entry = `{"source":"${source}","incarnation":"${incarnation}","seq":1,"txId":"t1","epoch":1,"entity":"Question","op":"delete","pk":${pk}}`;
  return `{"type":"batch","id":1,"entries":[${entry}]}`;
}

describe('frames too deep or too big', () => {
  const createHarness = harnessPerTest();

  it(
    'refuses a 200,000-deep primary key with OPLOG_BAD_FRAME, and keeps serving the honest source',
    async () => {
      const h = await createHarness('sqlite', 'sqlite');
      // Created before anything streams: a credential written while the consumer applies can meet SQLITE_BUSY.
      const token = await h.credential('mallory');
      await h.scenario();
      const consumer = await h.startConsumer();
      await h.startProducer(consumer.port);
      await waitForConvergence(h);

      const mallory = await BareProducer.connect(consumer.port, token);
      const schema = fingerprintOf(await h.targetOrm(), REPLICATED);
      expect(await mallory.handshake(helloOf(schema, 'mallory', 'm-1'))).toBeDefined();
      mallory.send(deepBatch('mallory', 'm-1', 200_000));
      const closed = await mallory.closed;
      expect(closed.error?.code).toBe('OPLOG_BAD_FRAME');
      expect(closed.error?.message).toBe(`entries.0.pk.id.0.0…: nested deeper than ${MAX_FRAME_DEPTH} levels`);
      expect(closed.code).toBe(1007);
      // The consumer's log line may reach us after the close does.
      await consumer.process.waitFor(refused('OPLOG_BAD_FRAME'));
      expect(consumer.process.logs.filter(refused('OPLOG_BAD_FRAME'))).toHaveLength(1);

      await h.write(20);
      await h.waitFor(async () => (await h.cursor(h.site.id)) === (await h.head()), 60_000);
      expect(consumer.process.child.exitCode).toBeNull();
    },
    TIMEOUT,
  );

  it(
    'answers a frame over maxPayload with an OPLOG_FRAME_TOO_BIG error frame and a close reason; the producer reports the code',
    async () => {
      const h = await createHarness('sqlite', 'sqlite');
      const token = await h.credential('mallory');
      await h.scenario();
      const consumer = await h.startConsumer([], { OPLOG_MAX_PAYLOAD: String(MAX_PAYLOAD) });
      const producer = await h.startProducer(consumer.port, { OPLOG_BACKOFF__MAX_MS: '500' });
      await waitForConvergence(h);

      const mallory = await BareProducer.connect(consumer.port, token);
      mallory.send(`{"type":"hello","pad":"${'x'.repeat(MAX_PAYLOAD)}"}`);
      const closed = await mallory.closed;
      expect(closed).toEqual({
        code: 1009,
        reason: `OPLOG_FRAME_TOO_BIG: frame over ${MAX_PAYLOAD} bytes (maxPayload); not read`,
        error: { code: 'OPLOG_FRAME_TOO_BIG', message: `frame over ${MAX_PAYLOAD} bytes (maxPayload); not read` },
      });
      await consumer.process.waitFor(refused('OPLOG_FRAME_TOO_BIG'));
      expect(consumer.process.logs.filter(refused('OPLOG_FRAME_TOO_BIG'))).toHaveLength(1);

      // One source transaction bigger than the consumer's frames: the real producer learns why it is refused.
      await h.asApp((app) =>
        app.em.fork().transactional(async (em) => {
          const question = em.create(Question, { id: randomUUID(), questionText: 'big', pubDate: new Date() });
          for (let i = 0; i < 200; i++) {
            em.create(Choice, { id: randomUUID(), question, choiceText: 'c'.repeat(150), votes: i });
          }
        }),
      );
      const lost = await producer.waitFor((line) => line.msg === 'connection lost');
      expect(lost).toMatchObject({ code: 'OPLOG_FRAME_TOO_BIG', err: expect.stringContaining(String(MAX_PAYLOAD)) });
    },
    TIMEOUT,
  );
});
