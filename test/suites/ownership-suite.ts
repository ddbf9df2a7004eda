import { randomUUID } from 'node:crypto';
import { ERRORS } from '@oplog/protocol';
import { describe, expect, it } from 'vitest';
import { BareProducer, fingerprintOf, helloOf, transaction } from '../support/bare-producer.js';
import type { Driver } from '../support/databases.js';
import { harnessPerTest, REPLICATED, type StreamHarness } from '../support/stream-harness.js';
import { waitForUnion } from '../support/union.js';

const TIMEOUT = 120_000;
const B = 'shop-b';

/** A source's rows are its own on a consumer on `target` (an SQLite source, and another source's bare producer). */
export function ownershipSuite(target: Driver): void {
  describe(`row ownership across sources (consumer on ${target})`, () => {
    const createHarness = harnessPerTest();

    it(
      "refuses source B's valid credential any update or delete of A's rows, applies nothing of its batch, and A keeps streaming",
      async () => {
        const h = await createHarness('sqlite', target);
        const a = h.site;
        await a.createSchema();
        const { port } = await h.startConsumer();
        await a.startProducer(port);
        await a.loadResult(a.load(100));
        await waitForUnion(h);
        const { question, choice } = await rowsOfA(h);
        const before = await snapshot(h, question.id, choice.id);

        const schema = fingerprintOf(await h.targetOrm(), REPLICATED);
        const token = await h.credential(B);
        const ownTags = [randomUUID(), randomUUID()];
        // Each batch first writes a row of B's own (a new tag), then touches A's row: the refusal must undo the tag.
        const attempts = [
          {
            entity: 'Question',
            op: 'update' as const,
            pk: { id: question.id },
            after: { ...question, questionText: 'stolen' },
          },
          { entity: 'Choice', op: 'delete' as const, pk: { id: choice.id } },
        ];
        for (const [i, change] of attempts.entries()) {
          const b = await BareProducer.connect(port, token);
          const welcome = await b.handshake(helloOf(schema, B, 'b-1'));
          expect(welcome?.cursor.seq, 'B has applied nothing').toBe(0);
          const tag = {
            entity: 'Tag',
            op: 'insert' as const,
            pk: { id: ownTags[i]! },
            after: { id: ownTags[i]!, label: 'B' },
          };
          b.send({ type: 'batch', id: 10, entries: transaction(B, 'b-1', 1, [tag, change]) });
          const closed = await b.closed;
          expect(closed.error?.code, change.op).toBe('OPLOG_NOT_OWNER');
          expect(closed.code).toBe(ERRORS.OPLOG_NOT_OWNER.close);
          expect(closed.error?.message).toContain(`belongs to source ${a.id}`);
          expect(
            b.received.filter((frame) => frame.type === 'ack'),
            'B got no ack',
          ).toEqual([]);
        }

        expect(await snapshot(h, question.id, choice.id), "A's rows are unchanged").toEqual(before);
        const connection = (await h.targetOrm()).em.getConnection();
        const tags = await connection.execute('select id from tag where id in (?, ?)', ownTags);
        expect(tags, "nothing of B's batches was applied").toEqual([]);
        const owned = await connection.execute('select pk from oplog_row_owner where source = ?', [B]);
        expect(owned).toEqual([]);
        expect(await h.cursor(B)).toBe(0);

        const status = await h.sourceStatus(port, B);
        expect(status.lastError?.code).toBe('OPLOG_NOT_OWNER');
        expect(await errorsTotal(port, 'OPLOG_NOT_OWNER')).toBe(2);

        // A was not disturbed: it keeps streaming, and the consumer holds exactly A's rows.
        const cursorBefore = await h.cursor(a.id);
        await a.loadResult(a.load(100));
        const state = await waitForUnion(h);
        expect(state.cursors[a.id]).toBeGreaterThan(cursorBefore);
        expect((await h.sourceStatus(port, a.id)).lastError).toBeUndefined();
      },
      TIMEOUT,
    );
  });
}

/** One question and one choice of A, as the consumer holds them, in the after-image form capture records. */
async function rowsOfA(h: StreamHarness) {
  const connection = (await h.targetOrm()).em.getConnection();
  const [question] = await connection.execute<{ id: string; question_text: string }[]>(
    'select id, question_text from question order by id limit 1',
  );
  const [choice] = await connection.execute<{ id: string }[]>('select id from choice order by id limit 1');
  return {
    question: { id: question!.id, questionText: question!.question_text, pubDate: Date.now() },
    choice: { id: choice!.id },
  };
}

/** The consumer's copy of two rows, every column. */
async function snapshot(h: StreamHarness, questionId: string, choiceId: string) {
  const connection = (await h.targetOrm()).em.getConnection();
  return {
    question: await connection.execute('select * from question where id = ?', [questionId]),
    choice: await connection.execute('select * from choice where id = ?', [choiceId]),
  };
}

async function errorsTotal(port: number, code: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`oplog_errors_total{code="${code}"}`));
  return Number(line?.split(' ').at(-1) ?? 0);
}
