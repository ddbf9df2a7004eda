import { randomUUID } from 'node:crypto';
import {
  Collection,
  type EntityManager,
  EntitySchema,
  ForeignKeyConstraintViolationException,
  type MikroORM,
  type Transaction,
} from '@mikro-orm/core';
import { MikroORM as PostgresOrm } from '@mikro-orm/postgresql';
import { MikroORM as SqliteOrm } from '@mikro-orm/sqlite';
import { OplogCapture, oplogEntities } from '@oplog/capture';
import { Choice, pollsEntities, Question, Tag } from '@oplog/demo/entities';
import type { Json, OplogEntry } from '@oplog/protocol';
import { createTestDatabase, type Driver, type TestDatabase } from '@oplog/testing/databases';
import { outboxEntries } from '@oplog/testing/outbox';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type Applier, type ApplyContext, createApplier } from './applier.js';
import { replayEntities } from './tables.js';

/** Column types the polls app lacks, and a unique key besides the primary key. */
class Gadget {
  id!: number;
  code!: string;
  flag!: boolean;
  meta!: Json;
  day!: string;
  big!: string;
  at!: Date | null;
  price!: string;
  score!: number;
  question!: Question | null;
  /** Many-to-many with a fixed order: its pivot table has an autoincrement key. */
  labels = new Collection<Tag>(this);
}

/** A composite primary key that includes a relation. */
class Vote {
  choice!: Choice;
  voter!: string;
  weight!: number;
}

const GadgetSchema = new EntitySchema<Gadget>({
  class: Gadget,
  properties: {
    id: { type: 'integer', primary: true, autoincrement: false },
    code: { type: 'string', length: 32, unique: true },
    flag: { type: 'boolean' },
    meta: { type: 'json', nullable: true },
    day: { type: 'date' },
    big: { type: 'bigint' },
    at: { type: 'datetime', nullable: true },
    price: { type: 'decimal', precision: 10, scale: 2 },
    score: { type: 'double' },
    question: { kind: 'm:1', entity: () => Question, nullable: true },
    labels: { kind: 'm:n', entity: () => Tag, owner: true, fixedOrder: true },
  },
});

const VoteSchema = new EntitySchema<Vote>({
  class: Vote,
  properties: {
    choice: { kind: 'm:1', entity: () => Choice, primary: true },
    voter: { type: 'string', length: 64, primary: true },
    weight: { type: 'integer' },
  },
});

const entities = [...pollsEntities, GadgetSchema, VoteSchema, ...oplogEntities, ...replayEntities];

async function openOrm(db: TestDatabase, capture?: OplogCapture): Promise<MikroORM> {
  const options = { entities, subscribers: capture ? [capture] : [] };
  const orm =
    db.driver === 'sqlite'
      ? await SqliteOrm.init({ ...options, dbName: db.dbName })
      : await PostgresOrm.init({ ...options, dbName: db.dbName, clientUrl: db.clientUrl });
  await orm.schema.createSchema();
  return orm;
}

async function applyBatch(orm: MikroORM, applier: Applier, entries: readonly OplogEntry[]): Promise<void> {
  await orm.em
    .fork()
    .transactional((em) => applier.apply(em, em.getTransactionContext<Transaction>()!, entries, { source: 's1' }));
}

const byKey =
  <T>(key: (row: T) => string) =>
  (a: T, b: T) =>
    key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0;

/** Every replicated row, normalized so that SQLite and PostgreSQL compare equal (dates as epoch ms). */
async function state(orm: MikroORM) {
  const em = orm.em.fork();
  const questions = (await em.find(Question, {}, { populate: ['tags'] })).map((q) => ({
    id: q.id,
    questionText: q.questionText,
    pubDate: q.pubDate.getTime(),
    tags: q.tags
      .getItems()
      .map((t) => t.id)
      .sort(),
  }));
  const choices = (await em.find(Choice, {})).map((c) => ({
    id: c.id,
    question: c.question.id,
    choiceText: c.choiceText,
    votes: c.votes,
  }));
  const tags = (await em.find(Tag, {})).map((t) => ({ id: t.id, label: t.label }));
  const gadgets = (await em.find(Gadget, {}, { populate: ['labels'] })).map((g) => ({
    id: g.id,
    code: g.code,
    flag: g.flag,
    meta: g.meta,
    day: String(g.day),
    big: String(g.big),
    at: g.at === null ? null : g.at.getTime(),
    price: Number(g.price),
    score: g.score,
    question: g.question?.id ?? null,
    labels: g.labels.getItems().map((t) => t.label),
  }));
  const votes = (await em.find(Vote, {})).map((v) => ({ choice: v.choice.id, voter: v.voter, weight: v.weight }));
  const pivot: { question_id: string; tag_id: string }[] = await em
    .getConnection()
    .execute('select question_id, tag_id from question_tags');
  return {
    questions: questions.sort(byKey((r) => r.id)),
    choices: choices.sort(byKey((r) => r.id)),
    tags: tags.sort(byKey((r) => r.id)),
    gadgets: gadgets.sort(byKey((r) => String(r.id))),
    votes: votes.sort(byKey((r) => `${r.choice}/${r.voter}`)),
    questionTags: pivot.map((r) => `${r.question_id}/${r.tag_id}`).sort(),
  };
}

type State = Awaited<ReturnType<typeof state>>;

const empty: State = { questions: [], choices: [], tags: [], gadgets: [], votes: [], questionTags: [] };

/** Runs the test suite replaying changes captured on a `sourceDriver` database into a `targetDriver` database. */
export function applierSuite(sourceDriver: Driver, targetDriver: Driver): void {
  describe(`applier: ${sourceDriver} source into ${targetDriver} target`, () => {
    const cleanup: (() => Promise<void>)[] = [];

    afterEach(async () => {
      for (const step of cleanup.splice(0).reverse()) await step();
    });

    async function setup() {
      const sourceDb = await createTestDatabase(sourceDriver, 'applier_source');
      cleanup.push(() => sourceDb.drop());
      const targetDb = await createTestDatabase(targetDriver, 'applier_target');
      cleanup.push(() => targetDb.drop());
      const source = await openOrm(sourceDb, new OplogCapture());
      cleanup.push(() => source.close());
      const target = await openOrm(targetDb);
      cleanup.push(() => target.close());
      const applier = createApplier(target);
      let applied = 0;
      /** Applies what the source captured since the last call, as one batch. */
      const replicate = async () => {
        const entries = await outboxEntries(source, applied);
        if (entries.length > 0) await applyBatch(target, applier, entries);
        applied = entries.at(-1)?.seq ?? applied;
        return entries;
      };
      const expectInSync = async () => {
        const expected = await state(source);
        expect(await state(target)).toEqual(expected);
        return expected;
      };
      return { source, target, applier, replicate, expectInSync };
    }

    // Milliseconds set, so a date that lost precision or moved by a time zone shows.
    const pubDate = new Date('2024-05-01T12:34:56.789Z');

    function newQuestion(em: EntityManager, questionText = 'What is your favourite colour?'): Question {
      return em.create(Question, { id: randomUUID(), questionText, pubDate });
    }

    function newChoice(em: EntityManager, question: Question, choiceText: string): Choice {
      return em.create(Choice, { id: randomUUID(), question, choiceText, votes: 0 });
    }

    it('replays the seed scenario: a question with two choices, one deleted and saved again with its id', async () => {
      const { source, replicate, expectInSync } = await setup();
      const em = source.em.fork();
      const question = newQuestion(em);
      const blue = newChoice(em, question, 'Blue');
      const yellow = newChoice(em, question, 'Yellow');
      await em.flush();
      await replicate();
      em.remove(yellow);
      await em.flush();
      em.create(Choice, { id: yellow.id, question, choiceText: 'Yellow', votes: 0 });
      await em.flush();
      blue.votes += 1;
      await em.flush();
      expect((await replicate()).map((e) => `${e.entity} ${e.op}`)).toEqual([
        'Choice delete',
        'Choice insert',
        'Choice update',
      ]);

      const replicated = await expectInSync();
      expect(replicated.questions).toEqual([
        { id: question.id, questionText: question.questionText, pubDate: pubDate.getTime(), tags: [] },
      ]);
      expect(replicated.choices.map((c) => [c.choiceText, c.votes]).sort()).toEqual([
        ['Blue', 1],
        ['Yellow', 0],
      ]);
    });

    it('replays updates, including several images of one row in a batch', async () => {
      const { source, replicate, expectInSync } = await setup();
      const em = source.em.fork();
      const question = newQuestion(em);
      const choices = ['A', 'B', 'C'].map((text) => newChoice(em, question, text));
      await em.flush();
      await replicate();

      const [a, b] = choices as [Choice, Choice];
      for (let i = 0; i < 3; i++) {
        a.votes += 1;
        await em.flush();
        b.votes += 2;
        b.choiceText = `B${i}`;
        await em.flush();
      }
      question.questionText = 'Which colour, really?';
      question.pubDate = new Date('2023-01-02T03:04:05.006Z');
      await em.flush();
      const entries = await replicate();
      expect(entries.map((e) => `${e.entity} ${e.op}`)).toEqual([...Array(6).fill('Choice update'), 'Question update']);

      const replicated = await expectInSync();
      expect(replicated.questions[0]?.pubDate).toBe(Date.parse('2023-01-02T03:04:05.006Z'));
      expect(replicated.choices.map((c) => c.votes).sort()).toEqual([0, 3, 6]);
    });

    it('replays many-to-many changes into the pivot table, and leaves it alone for images without the list', async () => {
      const { source, target, replicate, expectInSync } = await setup();
      const em = source.em.fork();
      const question = newQuestion(em);
      const other = newQuestion(em, 'Another?');
      const [red, green, blue] = ['red', 'green', 'blue'].map((label) => em.create(Tag, { id: randomUUID(), label }));
      question.tags.add(red!, green!, blue!);
      other.tags.add(green!);
      await em.flush();
      await replicate();
      expect((await expectInSync()).questionTags).toHaveLength(4);

      question.tags.remove(red!);
      await em.flush();
      await replicate();
      expect((await state(target)).questions.find((q) => q.id === question.id)?.tags).toEqual(
        [green!.id, blue!.id].sort(),
      );

      // An update without `tags` in its image must keep the pivot rows.
      question.questionText = 'Renamed?';
      await em.flush();
      const [rename] = await replicate();
      expect(rename?.after).not.toHaveProperty('tags');
      expect((await expectInSync()).questionTags).toHaveLength(3);

      question.tags.removeAll();
      other.tags.add(red!, blue!);
      await em.flush();
      question.tags.add(blue!);
      await em.flush();
      await replicate();
      expect((await expectInSync()).questionTags).toHaveLength(4);
    });

    it('keeps the order of a fixed-order many-to-many list', async () => {
      const { source, replicate, expectInSync } = await setup();
      const em = source.em.fork();
      const [a, b, c] = ['a', 'b', 'c'].map((label) => em.create(Tag, { id: randomUUID(), label }));
      const base = { flag: true, day: '2024-01-01', big: '1', price: '1.00', score: 1, meta: null, at: null };
      const first = em.create(Gadget, { ...base, id: 1, code: 'one', question: null });
      const second = em.create(Gadget, { ...base, id: 2, code: 'two', question: null });
      first.labels.add(c!, a!, b!);
      second.labels.add(b!, c!);
      await em.flush();
      await replicate();
      expect((await expectInSync()).gadgets.map((g) => g.labels)).toEqual([
        ['c', 'a', 'b'],
        ['b', 'c'],
      ]);

      first.labels.set([b!, c!]);
      second.labels.add(a!);
      await em.flush();
      await replicate();
      expect((await expectInSync()).gadgets.map((g) => g.labels)).toEqual([
        ['b', 'c'],
        ['b', 'c', 'a'],
      ]);
    });

    it('replays cascaded deletes: children before the parent, and pivot rows of a deleted tag', async () => {
      const { source, replicate, expectInSync } = await setup();
      const seed = source.em.fork();
      const question = newQuestion(seed);
      const kept = newQuestion(seed, 'Kept?');
      for (const text of ['A', 'B', 'C']) newChoice(seed, question, text);
      newChoice(seed, kept, 'D');
      const tag = seed.create(Tag, { id: randomUUID(), label: 'doomed' });
      question.tags.add(tag);
      kept.tags.add(tag);
      await seed.flush();
      await replicate();

      const removing = source.em.fork();
      removing.remove(await removing.findOneOrFail(Question, question.id, { populate: ['choices'] }));
      await removing.flush();
      removing.remove(await removing.findOneOrFail(Tag, tag.id));
      await removing.flush();
      const deletes = await replicate();
      expect(deletes.map((e) => `${e.entity} ${e.op}`)).toEqual([
        'Choice delete',
        'Choice delete',
        'Choice delete',
        'Question delete',
        'Tag delete',
      ]);

      const replicated = await expectInSync();
      expect(replicated.questions.map((q) => q.id)).toEqual([kept.id]);
      expect(replicated.choices).toHaveLength(1);
      expect(replicated.questionTags).toEqual([]);
    });

    it('gives the same state when entries are applied twice, whole or overlapping', async () => {
      const { source, target, applier, expectInSync } = await setup();
      const em = source.em.fork();
      const question = newQuestion(em);
      const choice = newChoice(em, question, 'Red');
      const tag = em.create(Tag, { id: randomUUID(), label: 'warm' });
      question.tags.add(tag);
      await em.flush();
      choice.votes = 5;
      em.remove(newChoice(em, question, 'Gone'));
      await em.flush();
      em.remove(choice);
      await em.flush();

      const entries = await outboxEntries(source);
      await applyBatch(target, applier, entries);
      const once = await expectInSync();
      await applyBatch(target, applier, entries);
      expect(await state(target)).toEqual(once);
      // A resend after a lost ack starts earlier than what was applied.
      await applyBatch(target, applier, entries.slice(2));
      await applyBatch(target, applier, entries.slice(1, 4));
      await applyBatch(target, applier, entries.slice(4));
      expect(await state(target)).toEqual(once);
    });

    it('replays every column type exactly, and quotes values that look like SQL', async () => {
      const { source, target, replicate, expectInSync } = await setup();
      const em = source.em.fork();
      const question = newQuestion(em, `Robert'); drop table question; -- ? ?? \\' "x" \\?`);
      const base = {
        flag: true,
        day: '2024-02-29',
        big: '9007199254740991',
        price: '12.50',
        score: 0.1 + 0.2,
        question,
      };
      const meta = { text: 'it\'s ? a "test" \\', nested: [1, 'two', { three: null }], unicode: 'ünï €' };
      em.create(Gadget, { ...base, id: 1, code: 'g1', meta, at: new Date('1999-12-31T23:59:59.999Z') });
      em.create(Gadget, { ...base, id: 2, code: 'g2', flag: false, meta: [1, 2, 3], at: null, question: null });
      em.create(Gadget, { ...base, id: 3, code: 'g3', meta: 'just a string', at: new Date(0) });
      em.create(Gadget, { ...base, id: 4, code: 'g4', meta: null, at: new Date('2038-01-19T03:14:08.001Z') });
      em.create(Tag, { id: randomUUID(), label: "O'Reilly ? `tick` \\" });
      await em.flush();
      await replicate();
      const replicated = await expectInSync();
      expect(replicated.gadgets.map((g) => [g.id, g.flag, g.meta, g.at])).toEqual([
        [1, true, meta, Date.parse('1999-12-31T23:59:59.999Z')],
        [2, false, [1, 2, 3], null],
        [3, true, 'just a string', 0],
        [4, true, null, Date.parse('2038-01-19T03:14:08.001Z')],
      ]);
      expect(replicated.gadgets[0]).toMatchObject({ day: '2024-02-29', big: '9007199254740991', price: 12.5 });
      expect(replicated.gadgets[0]?.score).toBe(0.1 + 0.2);
      expect(replicated.questions[0]?.questionText).toBe(question.questionText);

      const gadget = await em.findOneOrFail(Gadget, 2);
      gadget.flag = true;
      gadget.meta = { changed: true };
      gadget.at = new Date('2020-02-02T02:02:02.202Z');
      gadget.question = question;
      await em.flush();
      await replicate();
      await expectInSync();

      // The target holds each value in its platform's own form, as MikroORM would have written it.
      const connection = target.em.getConnection();
      if (targetDriver === 'sqlite') {
        const [row] = await connection.execute<Record<string, unknown>[]>(
          'select typeof(flag) as flag, typeof(at) as at, typeof(meta) as meta, meta as raw from gadget where id = 2',
        );
        expect(row).toEqual({ flag: 'integer', at: 'integer', meta: 'text', raw: '{"changed":true}' });
      } else {
        const [row] = await connection.execute<Record<string, unknown>[]>(
          `select jsonb_typeof(meta) as meta, pg_typeof(at)::text as at, (extract(epoch from at) * 1000)::bigint::text as ms
           from gadget where id = 3`,
        );
        expect(row).toEqual({ meta: 'string', at: 'timestamp with time zone', ms: '0' });
      }
    });

    it('replays a unique-value swap and rows with a composite key that includes a relation', async () => {
      const { source, replicate, expectInSync } = await setup();
      const em = source.em.fork();
      const question = newQuestion(em);
      const choice = newChoice(em, question, 'Red');
      const base = { flag: true, day: '2024-01-01', big: '1', price: '1.00', score: 1, meta: null, at: null, question };
      const a = em.create(Gadget, { ...base, id: 10, code: 'x' });
      const b = em.create(Gadget, { ...base, id: 20, code: 'y' });
      em.create(Vote, { choice, voter: 'ann', weight: 1 });
      const bob = em.create(Vote, { choice, voter: 'bob', weight: 1 });
      await em.flush();
      await replicate();

      // Each step is valid on its own; the last image of `a` alone would collide with `b` until `b` moves.
      a.code = 'tmp';
      await em.flush();
      b.code = 'x';
      await em.flush();
      a.code = 'y';
      await em.flush();
      bob.weight = 3;
      await em.flush();
      em.remove(bob);
      await em.flush();
      em.create(Vote, { choice, voter: 'bob', weight: 7 });
      em.create(Vote, { choice, voter: 'cy', weight: 2 });
      await em.flush();
      await replicate();

      const replicated = await expectInSync();
      expect(replicated.gadgets.map((g) => g.code)).toEqual(['y', 'x']);
      expect(replicated.votes.map((v) => [v.voter, v.weight])).toEqual([
        ['ann', 1],
        ['bob', 7],
        ['cy', 2],
      ]);
    });

    it('writes consecutive entries of one entity and kind with one statement, keeping the last image of a row', async () => {
      const { source, target, replicate, expectInSync } = await setup();
      const em = source.em.fork();
      const tag = em.create(Tag, { id: randomUUID(), label: 'warm' });
      await em.flush();
      const [question] = ['Q1', 'Q2', 'Q3'].map((text) => newQuestion(em, text));
      const choices = ['A', 'B', 'C', 'D', 'E', 'F'].map((text) => newChoice(em, question!, text));
      await em.flush();
      choices[0]!.votes = 1;
      await em.flush();
      choices[0]!.votes = 2;
      await em.flush();
      em.remove(choices[4]!);
      em.remove(choices[5]!);
      await em.flush();
      question!.tags.add(tag);
      await em.flush();

      // The target's ORM is thrown away after the test, so the spy needs no restoring.
      const execute = vi.spyOn(target.em.getConnection('write'), 'execute');
      await replicate();
      const statements = execute.mock.calls.map(([sql]) => String(sql).replace(/[`"]/g, '').split(' ', 3).join(' '));
      // Each group first claims its rows for the source (which fails on another source's row); a delete then
      // releases them. Last, one check per referenced entity: the rows pointed at (questions, tags) are the source's.
      const claim = 'insert into oplog_row_owner';
      const refer = claim;
      expect(statements).toEqual([
        claim,
        'insert into tag',
        claim,
        'insert into question',
        claim,
        'insert into choice',
        claim,
        'delete from oplog_row_owner',
        'delete from choice',
        claim,
        'insert into question',
        'delete from question_tags',
        'insert into question_tags',
        refer,
        refer,
      ]);
      expect((await expectInSync()).choices.find((c) => c.id === choices[0]!.id)?.votes).toBe(2);
    });

    it('replays large batches in several statements', async () => {
      const { source, replicate, expectInSync } = await setup();
      const em = source.em.fork();
      const question = newQuestion(em);
      const choices = Array.from({ length: 2500 }, (_, i) => newChoice(em, question, `Choice ${i}`));
      const tags = Array.from({ length: 1200 }, (_, i) => em.create(Tag, { id: randomUUID(), label: `t${i}` }));
      question.tags.add(tags);
      await em.flush();
      for (const choice of choices.slice(0, 1500)) choice.votes = 1;
      for (const choice of choices.slice(1000, 2200)) em.remove(choice);
      await em.flush();
      expect(await replicate()).toHaveLength(1 + 2500 + 1200 + 1 + 1000 + 1200);

      const replicated = await expectInSync();
      expect(replicated.choices).toHaveLength(1300);
      expect(replicated.questionTags).toHaveLength(1200);
    });

    it('refuses unknown entities and fields with their codes, and writes nothing', async () => {
      const { source, target, applier } = await setup();
      const em = source.em.fork();
      const question = newQuestion(em);
      newChoice(em, question, 'Red');
      await em.flush();
      const entries = await outboxEntries(source);
      const [questionInsert, choiceInsert] = entries as [OplogEntry, OplogEntry];
      const after = choiceInsert.after!;
      const forged = (over: Partial<OplogEntry>): OplogEntry[] => [questionInsert, { ...choiceInsert, ...over }];

      // The transaction commits: the refusal must come before any write.
      const refuses = (
        code: string,
        batch: OplogEntry[],
        applying = applier,
        context: ApplyContext = { source: 's1' },
      ) =>
        target.em.fork().transactional(async (tx) => {
          const applied = applying.apply(tx, tx.getTransactionContext<Transaction>()!, batch, context);
          await expect(applied).rejects.toMatchObject({ name: 'OplogError', code });
        });
      for (const entity of ['Nope', 'question_tags', 'OplogEntry', 'OplogSource', 'choice', '__proto__']) {
        await refuses('OPLOG_UNKNOWN_ENTITY', forged({ entity }));
      }
      await refuses('OPLOG_UNKNOWN_ENTITY', entries, createApplier(target, { entities: ['Question'] }));
      // An entity the consumer replicates, but that this source's hello did not declare.
      await refuses('OPLOG_UNKNOWN_ENTITY', entries, applier, { source: 's1', entities: new Set(['Question']) });

      await refuses('OPLOG_UNKNOWN_FIELD', forged({ after: { ...after, bogus: 1 } }));
      await refuses('OPLOG_UNKNOWN_FIELD', forged({ after: { ...after, question_id: after['question']! } }));
      await refuses('OPLOG_UNKNOWN_FIELD', forged({ pk: { id: after['id']!, bogus: 1 } }));
      await refuses('OPLOG_UNKNOWN_FIELD', forged({ op: 'delete', pk: { nope: 1 }, after: undefined }));
      const questionUpdate = (over: Record<string, Json>): OplogEntry[] => [
        questionInsert,
        { ...questionInsert, op: 'update', after: { ...questionInsert.after, ...over } },
      ];
      await refuses('OPLOG_UNKNOWN_FIELD', questionUpdate({ choices: [] }));

      await refuses('OPLOG_BAD_FRAME', forged({ after: { ...after, id: randomUUID() } }));
      await refuses('OPLOG_BAD_FRAME', forged({ pk: {} }));
      await refuses('OPLOG_BAD_FRAME', questionUpdate({ pubDate: 'yesterday' }));
      await refuses('OPLOG_BAD_FRAME', questionUpdate({ questionText: { drop: 'table' } }));
      await refuses('OPLOG_BAD_FRAME', questionUpdate({ tags: 'all' }));

      expect(await state(target)).toEqual(empty);
      await applyBatch(target, applier, entries);
      await expect(state(target)).resolves.toEqual(await state(source));
    });

    it('throws on a failing batch, whose earlier writes the caller then rolls back', async () => {
      const { source, target, applier } = await setup();
      const em = source.em.fork();
      const question = newQuestion(em);
      newChoice(em, question, 'Red');
      await em.flush();
      const [questionInsert, choiceInsert] = (await outboxEntries(source)) as [OplogEntry, OplogEntry];
      const orphan = { ...choiceInsert, after: { ...choiceInsert.after, question: randomUUID() } };

      await expect(applyBatch(target, applier, [questionInsert, orphan])).rejects.toBeInstanceOf(
        ForeignKeyConstraintViolationException,
      );
      expect(await state(target)).toEqual(empty);
      // Deleting a parent that still has children fails the same way.
      await applyBatch(target, applier, [questionInsert, choiceInsert]);
      const parentDelete: OplogEntry = { ...questionInsert, op: 'delete', after: undefined };
      await expect(applyBatch(target, applier, [parentDelete])).rejects.toBeInstanceOf(
        ForeignKeyConstraintViolationException,
      );
      expect(await state(target)).toEqual(await state(source));
    });
  });
}
