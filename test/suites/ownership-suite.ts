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
        const { port, schema, token } = await streamAOpenB(h, 100);
        await waitForUnion(h);
        const { question, choice } = await rowsOfA(h);
        const before = await snapshot(h, question.id, choice.id);

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
        await a.write(100);
        const state = await waitForUnion(h);
        expect(state.cursors[a.id]).toBeGreaterThan(cursorBefore);
        expect((await h.sourceStatus(port, a.id)).lastError).toBeUndefined();
      },
      TIMEOUT,
    );

    it(
      "refuses every spelling of another source's key (case, braces, hyphens), applies nothing of it, and stores no second row",
      async () => {
        const h = await createHarness('sqlite', target);
        const a = h.site;
        const { port, schema, token } = await streamAOpenB(h, 50);
        await waitForUnion(h);
        const { question, choice } = await rowsOfA(h);
        const before = await snapshot(h, question.id, choice.id);
        const questions = await count(h, 'question');

        let seq = 0;
        for (const id of spellings(question.id)) {
          for (const change of [
            { entity: 'Question', op: 'insert' as const, pk: { id }, after: { ...question, id, questionText: 'mine' } },
            { entity: 'Question', op: 'update' as const, pk: { id }, after: { ...question, id, questionText: 'mine' } },
            { entity: 'Question', op: 'delete' as const, pk: { id } },
          ]) {
            const closed = await sendAsB(port, token, schema, [change], ++seq);
            expect(closed.error?.code, `${change.op} ${id}`).toBe('OPLOG_NOT_OWNER');
            expect(closed.error?.message).toContain(`belongs to source ${a.id}`);
          }
        }
        for (const id of spellings(choice.id)) {
          const closed = await sendAsB(port, token, schema, [{ entity: 'Choice', op: 'delete', pk: { id } }], ++seq);
          expect(closed.error?.code, `delete choice ${id}`).toBe('OPLOG_NOT_OWNER');
        }

        expect(await snapshot(h, question.id, choice.id), "A's rows are unchanged").toEqual(before);
        expect(await count(h, 'question'), 'no row under another spelling').toBe(questions);
        const connection = (await h.targetOrm()).em.getConnection();
        expect(await connection.execute('select pk from oplog_row_owner where source = ?', [B])).toEqual([]);
        expect(await h.cursor(B)).toBe(0);
      },
      TIMEOUT,
    );

    it(
      "refuses a child under another source's parent for its sender, and the parent's owner still deletes its row",
      async () => {
        const h = await createHarness('sqlite', target);
        const a = h.site;
        const { port, schema, token } = await streamAOpenB(h, 50);
        const tagOfA = { id: randomUUID() };
        await a.asApp(async (orm) => {
          const em = orm.em.fork();
          em.create('Tag', { ...tagOfA, label: 'of A' });
          await em.flush();
        });
        await waitForUnion(h);
        const { question } = await rowsOfA(h);
        const connection = (await h.targetOrm()).em.getConnection();

        const ownQuestion = randomUUID();
        const attempts = [
          ...spellings(question.id).map((id) => ({
            entity: 'Choice',
            op: 'insert' as const,
            pk: { id: randomUUID() },
            after: { choiceText: 'squatter', votes: 0, question: id },
          })),
          {
            entity: 'Question',
            op: 'insert' as const,
            pk: { id: ownQuestion },
            after: { id: ownQuestion, questionText: 'B', pubDate: Date.now(), tags: [tagOfA.id.toUpperCase()] },
          },
        ];
        for (const [i, change] of attempts.entries()) {
          const closed = await sendAsB(port, token, schema, [change], i + 1);
          expect(closed.error?.code, JSON.stringify(change.after)).toBe('OPLOG_NOT_OWNER');
          expect(closed.error?.message).toContain(`which belongs to source ${a.id}`);
        }
        // A snapshot of B that carries such a child is refused the same way, not as an internal failure.
        const b = await BareProducer.connect(port, token);
        const child = { id: randomUUID(), choiceText: 'squatter', votes: 0, question: question.id };
        expect(await b.handshake(helloOf(schema, B, 'b-snap'), { Choice: [child] })).toBeUndefined();
        expect((await b.closed).error?.code).toBe('OPLOG_NOT_OWNER');
        expect(await connection.execute('select id from choice where choice_text = ?', ['squatter'])).toEqual([]);
        expect(await connection.execute('select id from question where id = ?', [ownQuestion])).toEqual([]);

        // A deletes its question (and its choices): nothing of B's blocks it.
        await a.asApp(async (orm) => {
          const em = orm.em.fork();
          const row = await em.findOneOrFail('Question', question.id, { populate: ['choices'] as never });
          em.remove(row);
          await em.flush();
        });
        await waitForUnion(h);
        expect(await connection.execute('select id from question where id = ?', [question.id])).toEqual([]);
        const status = await h.sourceStatus(port, a.id);
        expect(status.halted).toBeUndefined();
        expect(status.lastError).toBeUndefined();
      },
      TIMEOUT,
    );
  });
}

/** A (an SQLite source with its producer) streams `transactions` of the demo load; B gets a credential. */
async function streamAOpenB(h: StreamHarness, transactions: number) {
  const a = h.site;
  await a.createSchema();
  const { port } = await h.startConsumer();
  await a.startProducer(port);
  await a.write(transactions);
  return { port, schema: fingerprintOf(await h.targetOrm(), REPLICATED), token: await h.credential(B) };
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

/** The same UUID as PostgreSQL reads it, spelled differently: upper case, braces, no hyphens, hyphens moved. */
function spellings(uuid: string): string[] {
  const hex = uuid.replaceAll('-', '');
  return [
    uuid.toUpperCase(),
    `{${uuid}}`,
    hex,
    `{${hex.toUpperCase()}}`,
    hex.match(/.{4}/g)!.join('-'),
    `${uuid.slice(0, 9)}${uuid.slice(9).toUpperCase()}`,
  ];
}

/** B (a source with a valid credential) sends one transaction; resolves with how its session ended. */
async function sendAsB(
  port: number,
  token: string,
  schema: ReturnType<typeof fingerprintOf>,
  changes: Parameters<typeof transaction>[3],
  attempt: number,
) {
  const b = await BareProducer.connect(port, token);
  await b.handshake(helloOf(schema, B, `b-${attempt}`));
  b.send({ type: 'batch', id: 1, entries: transaction(B, `b-${attempt}`, 1, changes) });
  const closed = await b.closed;
  expect(b.received.filter((frame) => frame.type === 'ack')).toEqual([]);
  return closed;
}

async function count(h: StreamHarness, table: string): Promise<number> {
  const connection = (await h.targetOrm()).em.getConnection();
  const [row] = await connection.execute<{ n: number | string }[]>(`select count(*) as n from ${table}`);
  return Number(row!.n);
}
