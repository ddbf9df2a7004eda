import { randomUUID } from 'node:crypto';
import {
  type EntityManager,
  ForeignKeyConstraintViolationException,
  type MikroORM,
  UniqueConstraintViolationException,
} from '@mikro-orm/core';
import { MikroORM as PostgresOrm } from '@mikro-orm/postgresql';
import { MikroORM as SqliteOrm } from '@mikro-orm/sqlite';
import { Choice, pollsEntities, Question, Tag } from '@oplog/demo/entities';
import type { Json } from '@oplog/protocol';
import { createTestDatabase, type Driver, type TestDatabase } from '@oplog/testing/databases';
import { outboxEntries } from '@oplog/testing/outbox';
import { afterEach, describe, expect, it } from 'vitest';
import { oplogEntities } from './outbox-schema.js';
import { readSourceHead } from './outbox-writer.js';
import { type CaptureOptions, OplogCapture } from './subscriber.js';

type Image = Record<string, Json>;

/** One `oplog_entry` row, decoded. */
export interface CapturedEntry {
  seq: number;
  txId: string;
  epoch: number;
  entity: string;
  op: string;
  pk: Image;
  after: Image | null;
  changed: string[] | null;
}

/** Opens a MikroORM on `db` with the polls entities and the outbox tables; with `capture` as its subscriber. */
export async function openOrm(
  db: TestDatabase,
  capture: OplogCapture | undefined,
  pool?: { min: number; max: number },
): Promise<MikroORM> {
  const options = {
    entities: [...pollsEntities, ...oplogEntities],
    subscribers: capture ? [capture] : [],
    ...(pool ? { pool } : {}),
  };
  if (db.driver === 'sqlite') return SqliteOrm.init({ ...options, dbName: db.dbName });
  return PostgresOrm.init({ ...options, dbName: db.dbName, clientUrl: db.clientUrl });
}

export async function readOutbox(orm: MikroORM): Promise<CapturedEntry[]> {
  return (await outboxEntries(orm)).map((e) => ({
    seq: e.seq,
    txId: e.txId,
    epoch: e.epoch,
    entity: e.entity,
    op: e.op,
    pk: e.pk as Image,
    after: (e.after as Image | undefined) ?? null,
    changed: e.changed ?? null,
  }));
}

async function countRows(orm: MikroORM, table: string): Promise<number> {
  const rows: { n: number | string }[] = await orm.em.getConnection().execute(`select count(*) as n from ${table}`);
  return Number(rows[0]?.n);
}

/** What capture stores, minus the seq, txId and epoch, which the tests check separately. */
function change(entity: string, op: string, pk: Image, after: Image | null = null, changed: string[] | null = null) {
  return { entity, op, pk, after, changed };
}

function changesOf(entries: readonly CapturedEntry[]) {
  return entries.map(({ entity, op, pk, after, changed }) => ({ entity, op, pk, after, changed }));
}

/** Entries grouped by txId, in seq order, as lists of seqs. */
function seqsByTx(entries: readonly CapturedEntry[]): number[][] {
  const groups = new Map<string, number[]>();
  for (const entry of entries) {
    const group = groups.get(entry.txId) ?? [];
    group.push(entry.seq);
    groups.set(entry.txId, group);
  }
  return [...groups.values()];
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

/** Replays the outbox into a map of entity → pk → image: what a consumer would hold. */
function replay(entries: readonly CapturedEntry[]): Map<string, Image> {
  const state = new Map<string, Image>();
  for (const entry of entries) {
    const key = `${entry.entity}:${JSON.stringify(entry.pk)}`;
    if (entry.op === 'delete') state.delete(key);
    else state.set(key, { ...state.get(key), ...entry.after });
  }
  return state;
}

/** The current rows of `entities`, as capture images them. */
async function snapshot(orm: MikroORM, entities: readonly (typeof Question | typeof Choice)[]) {
  const em = orm.em.fork();
  const state = new Map<string, Image>();
  for (const entity of entities) {
    for (const row of await em.find(entity, {})) {
      const image = JSON.parse(JSON.stringify(em.getComparator().prepareEntity(row))) as Image;
      state.set(`${entity.name}:${JSON.stringify({ id: image['id'] })}`, image);
    }
  }
  return state;
}

export function captureSuite(driver: Driver): void {
  describe(`capture on ${driver}`, () => {
    const cleanup: (() => Promise<void>)[] = [];

    afterEach(async () => {
      for (const step of cleanup.splice(0).reverse()) await step();
    });

    /** A throwaway database with the schema created, and an ORM on it that captures with `options`. */
    async function setup(options?: CaptureOptions) {
      const db = await createTestDatabase(driver, 'capture');
      cleanup.push(() => db.drop());
      const capture = new OplogCapture(options);
      const orm = await openOrm(db, capture);
      cleanup.push(() => orm.close());
      await orm.schema.createSchema();
      return { db, orm, capture };
    }

    /** A datetime in the after-image is the ORM's snapshot value: epoch ms on SQLite, an ISO string on PostgreSQL. */
    const dateImage = (date: Date): Json => (driver === 'sqlite' ? date.getTime() : date.toISOString());
    const pubDate = new Date('2024-05-01T12:00:00.000Z');

    const questionImage = (q: Question, extra: Image = {}): Image => ({
      id: q.id,
      questionText: q.questionText,
      pubDate: dateImage(q.pubDate),
      ...extra,
    });
    const choiceImage = (c: Choice, votes = c.votes): Image => ({
      id: c.id,
      question: c.question.id,
      choiceText: c.choiceText,
      votes,
    });

    function newQuestion(em: EntityManager, questionText = 'What is your favourite colour?'): Question {
      return em.create(Question, { id: randomUUID(), questionText, pubDate });
    }

    function newChoice(em: EntityManager, question: Question | string, choiceText: string): Choice {
      return em.create(Choice, { id: randomUUID(), question, choiceText, votes: 0 });
    }

    it('records the seed scenario exactly, one transaction per flush, with gapless seqs', async () => {
      const { orm } = await setup();
      const em = orm.em.fork();
      const before = Date.now();

      const question = newQuestion(em);
      const blue = newChoice(em, question, 'Blue');
      const yellow = newChoice(em, question, 'Yellow');
      await em.flush();
      em.remove(yellow);
      await em.flush();
      const yellowAgain = em.create(Choice, { id: yellow.id, question, choiceText: 'Yellow', votes: 0 });
      await em.flush();
      blue.votes += 1;
      await em.flush();

      const entries = await readOutbox(orm);
      expect(changesOf(entries)).toEqual([
        change('Question', 'insert', { id: question.id }, questionImage(question)),
        change('Choice', 'insert', { id: blue.id }, choiceImage(blue, 0)),
        change('Choice', 'insert', { id: yellow.id }, choiceImage(yellow)),
        change('Choice', 'delete', { id: yellow.id }),
        change('Choice', 'insert', { id: yellow.id }, choiceImage(yellowAgain)),
        change('Choice', 'update', { id: blue.id }, choiceImage(blue, 1), ['votes']),
      ]);
      expect(entries.map((e) => e.seq)).toEqual(range(1, 6));
      expect(seqsByTx(entries)).toEqual([[1, 2, 3], [4], [5], [6]]);

      const epochs = entries.map((e) => e.epoch);
      expect(epochs).toEqual([...epochs].sort((a, b) => a - b));
      expect(epochs[0]).toBeGreaterThanOrEqual(before);
      expect(epochs.at(-1)).toBeLessThanOrEqual(Date.now());

      // Replaying the outbox gives exactly the rows in the database.
      expect(replay(entries)).toEqual(await snapshot(orm, [Question, Choice]));
    });

    it('records an update of one column with changed [column] and the full after-image', async () => {
      const { orm } = await setup();
      const em = orm.em.fork();
      const question = newQuestion(em);
      const choice = newChoice(em, question, 'Red');
      await em.flush();

      choice.votes = 7;
      await em.flush();
      question.questionText = 'Which colour?';
      await em.flush();
      // A flush with nothing to write records nothing.
      await em.flush();

      const entries = await readOutbox(orm);
      expect(changesOf(entries.slice(2))).toEqual([
        change('Choice', 'update', { id: choice.id }, choiceImage(choice, 7), ['votes']),
        change('Question', 'update', { id: question.id }, questionImage(question), ['questionText']),
      ]);
      expect(entries.map((e) => e.seq)).toEqual(range(1, 4));
      expect(seqsByTx(entries)).toEqual([[1, 2], [3], [4]]);
    });

    it('records a flush larger than one outbox insert as one transaction with consecutive seqs', async () => {
      const { orm } = await setup();
      const em = orm.em.fork();
      newQuestion(em, 'First?');
      await em.flush();
      const questions = Array.from({ length: 1_201 }, (_, i) => newQuestion(em, `Question ${i}?`));
      await em.flush();

      const entries = await readOutbox(orm);
      expect(entries.map((e) => e.seq)).toEqual(range(1, 1_202));
      expect(seqsByTx(entries).map((group) => group.length)).toEqual([1, 1_201]);
      expect(changesOf(entries.slice(1))).toEqual(
        questions.map((q) => change('Question', 'insert', { id: q.id }, questionImage(q))),
      );
      expect(new Set(entries.slice(1).map((e) => e.epoch)).size).toBe(1);
    });

    it('leaves no entry and no data when em.transactional throws', async () => {
      const { orm } = await setup();

      await expect(
        orm.em.fork().transactional(async (em) => {
          const question = newQuestion(em);
          newChoice(em, question, 'Green');
          await em.flush();
          throw new Error('abort');
        }),
      ).rejects.toThrow('abort');

      expect(await readOutbox(orm)).toEqual([]);
      expect(await countRows(orm, 'question')).toBe(0);
      expect(await countRows(orm, 'choice')).toBe(0);

      // The rollback also returned the seqs: the next transaction starts at 1.
      const em = orm.em.fork();
      const question = newQuestion(em);
      await em.flush();
      expect(changesOf(await readOutbox(orm))).toEqual([
        change('Question', 'insert', { id: question.id }, questionImage(question)),
      ]);
      expect((await readOutbox(orm)).map((e) => e.seq)).toEqual([1]);
    });

    it('leaves no entry when a flush fails on a primary key or foreign key violation', async () => {
      const { orm } = await setup();
      const em = orm.em.fork();
      const question = newQuestion(em);
      const choice = newChoice(em, question, 'Red');
      await em.flush();

      // The new question is written first; the choice with a taken primary key then fails the flush.
      const duplicate = orm.em.fork();
      const other = newQuestion(duplicate, 'Another?');
      duplicate.create(Choice, { id: choice.id, question: other, choiceText: 'Again', votes: 0 });
      await expect(duplicate.flush()).rejects.toBeInstanceOf(UniqueConstraintViolationException);

      const dangling = orm.em.fork();
      newQuestion(dangling, 'And another?');
      newChoice(dangling, randomUUID(), 'Orphan');
      await expect(dangling.flush()).rejects.toBeInstanceOf(ForeignKeyConstraintViolationException);

      expect(await countRows(orm, 'question')).toBe(1);
      expect(await countRows(orm, 'choice')).toBe(1);
      const entries = await readOutbox(orm);
      expect(changesOf(entries)).toEqual([
        change('Question', 'insert', { id: question.id }, questionImage(question)),
        change('Choice', 'insert', { id: choice.id }, choiceImage(choice)),
      ]);

      // Nothing of the failed flushes lingers: the next flush records only its own change, at the next seq.
      const next = orm.em.fork();
      const third = newQuestion(next, 'Third?');
      await next.flush();
      const after = await readOutbox(orm);
      expect(changesOf(after.slice(2))).toEqual([change('Question', 'insert', { id: third.id }, questionImage(third))]);
      expect(after.map((e) => e.seq)).toEqual([1, 2, 3]);
    });

    it('drops only the rolled-back savepoint’s entries; the rest commit under one txId with gapless seqs', async () => {
      const { orm } = await setup();
      let question!: Question;
      let kept!: Choice;
      let last!: Choice;
      const rolledBack: string[] = [];

      await orm.em.fork().transactional(async (em) => {
        question = newQuestion(em);
        await em.flush();
        await expect(
          em.transactional(async (inner) => {
            rolledBack.push(newChoice(inner, question.id, 'Rolled back').id);
            await inner.flush();
            rolledBack.push(newQuestion(inner, 'Rolled back too?').id);
            await inner.flush();
            throw new Error('abort the savepoint');
          }),
        ).rejects.toThrow('abort the savepoint');
        await em.transactional(async (inner) => {
          kept = newChoice(inner, question.id, 'Kept');
        });
        last = newChoice(em, question, 'Last');
      });

      const entries = await readOutbox(orm);
      expect(changesOf(entries)).toEqual([
        change('Question', 'insert', { id: question.id }, questionImage(question)),
        change('Choice', 'insert', { id: kept.id }, choiceImage(kept)),
        change('Choice', 'insert', { id: last.id }, choiceImage(last)),
      ]);
      expect(entries.map((e) => e.seq)).toEqual([1, 2, 3]);
      expect(seqsByTx(entries)).toEqual([[1, 2, 3]]);
      expect(entries.some((e) => rolledBack.includes(String(e.pk['id'])))).toBe(false);
      expect(replay(entries)).toEqual(await snapshot(orm, [Question, Choice]));
    });

    it('records cascaded deletes and orphan removals as deletes, children before the parent', async () => {
      const { orm } = await setup();
      // The entities stay managed by the EntityManager that created them, so `question.choices` is loaded.
      // (Loading them with a fresh EntityManager works the same on PostgreSQL, but on SQLite MikroORM 6.6.16 then
      // rewrites every `type: 'datetime'` column of a loaded entity at the next flush, which capture also records.)
      const em = orm.em.fork();
      const question = newQuestion(em);
      const choices = ['A', 'B', 'C'].map((text) => newChoice(em, question, text));
      const ids = choices.map((c) => c.id);
      await em.flush();
      expect(question.choices.isInitialized()).toBe(true);

      question.choices.remove(choices[0]!);
      await em.flush();
      em.remove(question);
      await em.flush();

      const entries = await readOutbox(orm);
      expect(entries.map((e) => e.seq)).toEqual(range(1, 8));
      expect(seqsByTx(entries)).toEqual([[1, 2, 3, 4], [5], [6, 7, 8]]);
      expect(changesOf(entries.slice(4))).toEqual([
        change('Choice', 'delete', { id: ids[0]! }),
        change('Choice', 'delete', { id: ids[1]! }),
        change('Choice', 'delete', { id: ids[2]! }),
        change('Question', 'delete', { id: question.id }),
      ]);
      expect(replay(entries)).toEqual(new Map());
      expect(await countRows(orm, 'choice')).toBe(0);
    });

    it('records many-to-many changes as an update of the owner with changed [tags] and the list of tag ids', async () => {
      const { orm } = await setup();
      const em = orm.em.fork();
      const question = newQuestion(em);
      await em.flush();
      const red = em.create(Tag, { id: randomUUID(), label: 'red' });
      const blue = em.create(Tag, { id: randomUUID(), label: 'blue' });
      question.tags.add(red, blue);
      await em.flush();
      question.tags.remove(red);
      await em.flush();
      question.tags.removeAll();
      await em.flush();

      const entries = await readOutbox(orm);
      expect(changesOf(entries)).toEqual([
        change('Question', 'insert', { id: question.id }, questionImage(question)),
        change('Tag', 'insert', { id: red.id }, { id: red.id, label: 'red' }),
        change('Tag', 'insert', { id: blue.id }, { id: blue.id, label: 'blue' }),
        change('Question', 'update', { id: question.id }, questionImage(question, { tags: [red.id, blue.id] }), [
          'tags',
        ]),
        change('Question', 'update', { id: question.id }, questionImage(question, { tags: [blue.id] }), ['tags']),
        change('Question', 'update', { id: question.id }, questionImage(question, { tags: [] }), ['tags']),
      ]);
      expect(seqsByTx(entries)).toEqual([[1], [2, 3, 4], [5], [6]]);
    });

    it('records native writes with recordWrites inside a transaction, and refuses outside one', async () => {
      const { orm, capture } = await setup();
      const em = orm.em.fork();
      const question = newQuestion(em);
      const choice = newChoice(em, question, 'Red');
      const gone = newChoice(em, question, 'Blue');
      await em.flush();
      const insertedId = randomUUID();

      await orm.em.fork().transactional(async (tx) => {
        await tx.nativeUpdate(Choice, { id: choice.id }, { votes: 42 });
        await tx.insert(Choice, { id: insertedId, question: question.id, choiceText: 'Inserted', votes: 3 });
        await capture.recordWrites(tx, 'Choice', [{ id: choice.id }, { id: insertedId }]);
      });
      await orm.em.fork().transactional(async (tx) => {
        await tx.nativeDelete(Choice, { id: gone.id });
        await capture.recordWrites(tx, 'Choice', [{ id: gone.id }]);
      });
      // Rolled back together with the native write.
      await expect(
        orm.em.fork().transactional(async (tx) => {
          await tx.nativeUpdate(Choice, { id: choice.id }, { votes: 1000 });
          await capture.recordWrites(tx, 'Choice', [{ id: choice.id }]);
          throw new Error('abort');
        }),
      ).rejects.toThrow('abort');

      const outside = orm.em.fork();
      await outside.nativeUpdate(Choice, { id: choice.id }, { votes: 43 });
      await expect(capture.recordWrites(outside, 'Choice', [{ id: choice.id }])).rejects.toMatchObject({
        code: 'OPLOG_NEEDS_TRANSACTION',
      });

      const entries = await readOutbox(orm);
      const inserted = { id: insertedId, question: question.id, choiceText: 'Inserted', votes: 3 };
      expect(changesOf(entries.slice(3))).toEqual([
        change('Choice', 'update', { id: choice.id }, choiceImage(choice, 42)),
        change('Choice', 'update', { id: insertedId }, inserted),
        change('Choice', 'delete', { id: gone.id }),
      ]);
      expect(entries.map((e) => e.seq)).toEqual(range(1, 6));
      expect(seqsByTx(entries)).toEqual([[1, 2, 3], [4, 5], [6]]);
    });

    it('captures em.upsert inside a transaction and refuses it outside one without writing', async () => {
      const { orm } = await setup();
      const question = { id: randomUUID(), questionText: 'Upserted?', pubDate };

      await expect(orm.em.fork().upsert(Question, question)).rejects.toMatchObject({
        code: 'OPLOG_NEEDS_TRANSACTION',
      });
      await expect(
        orm.em.fork().upsertMany(Choice, [{ id: randomUUID(), question: question.id, choiceText: 'X' }]),
      ).rejects.toMatchObject({ code: 'OPLOG_NEEDS_TRANSACTION' });
      expect(await countRows(orm, 'question')).toBe(0);
      expect(await countRows(orm, 'choice')).toBe(0);
      expect(await readOutbox(orm)).toEqual([]);

      const choiceIds = [randomUUID(), randomUUID()];
      await orm.em.fork().transactional(async (em) => {
        await em.upsert(Question, question);
        await em.upsert(Question, { ...question, questionText: 'Upserted again?' });
        await em.upsertMany(
          Choice,
          choiceIds.map((id, i) => ({ id, question: question.id, choiceText: `Choice ${i}`, votes: i })),
        );
      });

      const entries = await readOutbox(orm);
      const image = { id: question.id, pubDate: dateImage(pubDate) };
      expect(changesOf(entries)).toEqual([
        change('Question', 'update', { id: question.id }, { ...image, questionText: 'Upserted?' }),
        change('Question', 'update', { id: question.id }, { ...image, questionText: 'Upserted again?' }),
        ...choiceIds.map((id, i) =>
          change('Choice', 'update', { id }, { id, question: question.id, choiceText: `Choice ${i}`, votes: i }),
        ),
      ]);
      expect(seqsByTx(entries)).toEqual([[1, 2, 3, 4]]);
      expect(replay(entries)).toEqual(await snapshot(orm, [Question, Choice]));
    });

    it('honours exclude: an excluded entity gets no entries and is not refused outside a transaction', async () => {
      const { orm, capture } = await setup({ exclude: ['Choice'] });
      expect(capture.replicates('Question')).toBe(true);
      expect(capture.replicates('Choice')).toBe(false);

      const em = orm.em.fork();
      const question = newQuestion(em);
      const choice = newChoice(em, question, 'Red');
      await em.flush();
      choice.votes = 5;
      await em.flush();
      await orm.em.fork().upsert(Choice, { id: randomUUID(), question: question.id, choiceText: 'Upserted', votes: 0 });
      em.remove(choice);
      await em.flush();
      await expect(
        orm.em.fork().transactional((tx) => capture.recordWrites(tx, 'Choice', [{ id: choice.id }])),
      ).rejects.toMatchObject({ code: 'OPLOG_CAPTURE_MISUSE' });

      const entries = await readOutbox(orm);
      expect(changesOf(entries)).toEqual([change('Question', 'insert', { id: question.id }, questionImage(question))]);
      expect(await countRows(orm, 'choice')).toBe(1);
    });

    it('honours include, and never replicates the outbox’s own tables even when asked to', async () => {
      const { orm, capture } = await setup({ include: ['Choice', 'OplogEntry', 'OplogSource'] });
      expect(capture.replicates('Choice')).toBe(true);
      expect(capture.replicates('Question')).toBe(false);
      expect(capture.replicates('OplogEntry')).toBe(false);
      expect(capture.replicates('OplogSource')).toBe(false);

      const em = orm.em.fork();
      const question = newQuestion(em);
      const choice = newChoice(em, question, 'Red');
      await em.flush();
      question.questionText = 'Changed?';
      choice.votes = 2;
      await em.flush();
      await expect(
        orm.em.fork().transactional((tx) => capture.recordWrites(tx, 'OplogEntry', [{ seq: 1 }])),
      ).rejects.toMatchObject({ code: 'OPLOG_CAPTURE_MISUSE' });

      const entries = await readOutbox(orm);
      expect(changesOf(entries)).toEqual([
        change('Choice', 'insert', { id: choice.id }, choiceImage(choice, 0)),
        change('Choice', 'update', { id: choice.id }, choiceImage(choice, 2), ['votes']),
      ]);
      expect(entries.map((e) => e.seq)).toEqual([1, 2]);
    });

    it('creates the source identity once and keeps it across ORM restarts on the same database', async () => {
      const { db, orm } = await setup();
      expect(await readSourceHead(orm.em.getConnection())).toBeUndefined();

      const em = orm.em.fork();
      const first = newQuestion(em);
      await em.flush();
      const head = await readSourceHead(orm.em.getConnection());
      expect(head).toEqual({
        sourceId: expect.stringMatching(/^[\w-]{21}$/),
        incarnation: expect.stringMatching(/^[\w-]{21}$/),
        seq: 1,
        epoch: (await readOutbox(orm))[0]?.epoch,
      });
      expect(head?.incarnation).not.toBe(head?.sourceId);

      for (let restart = 0; restart < 2; restart++) {
        const again = await openOrm(db, new OplogCapture());
        try {
          const fork = again.em.fork();
          newQuestion(fork, `Restart ${restart}?`);
          await fork.flush();
          expect(await readSourceHead(again.em.getConnection())).toMatchObject({
            sourceId: head?.sourceId,
            incarnation: head?.incarnation,
            seq: 2 + restart,
          });
          expect(await countRows(again, 'oplog_source')).toBe(1);
        } finally {
          await again.close();
        }
      }

      const entries = await readOutbox(orm);
      expect(entries.map((e) => e.seq)).toEqual([1, 2, 3]);
      expect(entries[0]?.pk).toEqual({ id: first.id });
    });
  });
}
