import type { MikroORM } from '@mikro-orm/sqlite';
import { readSourceHead, type SourceHead } from '@oplog/capture';
import { type OplogEntry, oplogEntrySchema } from '@oplog/protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NoteSchema, openNotesOrm } from './notes.fixture.js';
import { OutboxReader } from './outbox-reader.js';

describe('OutboxReader', () => {
  let orm: MikroORM;
  let reader: OutboxReader;
  let source: SourceHead;

  beforeEach(async () => {
    orm = await openNotesOrm();
    reader = new OutboxReader(orm.em.getConnection());
  });

  afterEach(() => orm.close());

  /** Commits one transaction per entry of `sizes`, with that many rows. */
  async function commit(...sizes: number[]) {
    let id = (await orm.em.fork().count(NoteSchema)) + 1;
    for (const size of sizes) {
      const em = orm.em.fork();
      for (let i = 0; i < size; i++) em.create(NoteSchema, { id: id++, text: `note ${id}` });
      await em.flush();
    }
    source = (await readSourceHead(orm.em.getConnection()))!;
  }

  const parse = (json: string) => (JSON.parse(json) as unknown[]).map((e) => oplogEntrySchema.parse(e) as OplogEntry);

  it('reads entries after a seq as valid OplogEntry JSON, in order', async () => {
    await commit(1, 1, 1);
    const batch = (await reader.read(source, 1, { maxEntries: 10, maxBytes: 1 << 20 }))!;
    const entries = parse(batch.json);
    expect(entries.map((e) => e.seq)).toEqual([2, 3]);
    expect(entries[0]).toMatchObject({
      source: source.sourceId,
      incarnation: source.incarnation,
      entity: 'Note',
      op: 'insert',
      pk: { id: 2 },
      after: { id: 2, text: 'note 3' },
    });
    expect(batch).toMatchObject({ count: 2, lastSeq: 3 });
  });

  it('never splits a transaction: stops before one that does not fit', async () => {
    await commit(2, 3, 2);
    const batch = (await reader.read(source, 0, { maxEntries: 4, maxBytes: 1 << 20 }))!;
    expect(parse(batch.json).map((e) => e.seq)).toEqual([1, 2]);
  });

  it('sends a transaction larger than a batch in parts, each but its last partial', async () => {
    await commit(5, 1);
    const limits = { maxEntries: 2, maxBytes: 1 << 20 };
    const parts: { seqs: number[]; partial: boolean }[] = [];
    for (let after = 0, batch = await reader.read(source, after, limits); batch; ) {
      parts.push({ seqs: parse(batch.json).map((e) => e.seq), partial: batch.partial });
      after = batch.lastSeq;
      batch = await reader.read(source, after, limits);
    }
    expect(parts).toEqual([
      { seqs: [1, 2], partial: true },
      { seqs: [3, 4], partial: true },
      { seqs: [5, 6], partial: false },
    ]);
  });

  it('splits a transaction larger than maxBytes too', async () => {
    await commit(3);
    const batch = (await reader.read(source, 0, { maxEntries: 100, maxBytes: 10 }))!;
    expect(batch).toMatchObject({ count: 1, partial: true });
  });

  it('cuts at the first transaction boundary past maxBytes', async () => {
    await commit(1, 1, 1, 1);
    const batch = (await reader.read(source, 0, { maxEntries: 100, maxBytes: 10 }))!;
    expect(batch.count).toBe(1);
  });

  it('returns undefined when there is nothing after the seq', async () => {
    await commit(1);
    expect(await reader.read(source, 1, { maxEntries: 10, maxBytes: 1 << 20 })).toBeUndefined();
  });

  it('trims up to a seq and no further', async () => {
    await commit(3, 3, 3);
    expect(await reader.trim(5, 2)).toBe(5);
    expect(await reader.oldestSeq()).toBe(6);
    expect((await reader.head())?.seq).toBe(9);
  });
});
