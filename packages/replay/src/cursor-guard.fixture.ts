import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EntitySchema, type MikroORM } from '@mikro-orm/core';
import type { Cursor, Hello, OplogEntry } from '@oplog/protocol';
import { type DbConfig, openOrm } from '@oplog/runtime';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createApplier } from './applier.js';
import { NO_RECORD } from './cursor-store.js';
import { SourceReplay } from './source-replay.js';
import { DatabaseSourceStore, type Step } from './source-store.js';
import { replayEntities } from './tables.js';

const Item = new EntitySchema<{ id: string; name: string }>({
  name: 'Item',
  properties: { id: { type: 'string', primary: true }, name: { type: 'string' } },
});

const SOURCE = 's1';
const PG_SERVER = process.env.OPLOG_TEST_PG_URL ?? 'postgresql://postgres@127.0.0.1:5432';

/** A throwaway center database: an SQLite file, or a PostgreSQL database of its own. */
async function centerDatabase(driver: 'sqlite' | 'postgresql'): Promise<{ db: DbConfig; drop(): Promise<void> }> {
  if (driver === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'oplog-guard-'));
    return { db: { driver, name: join(dir, 'center.sqlite') }, drop: async () => rmSync(dir, { recursive: true }) };
  }
  const name = `oplog_guard_${process.pid}_${Date.now().toString(36)}`;
  const admin = async (sql: string) => {
    const orm = await openOrm({ driver, url: `${PG_SERVER}/postgres` }, { entities: [] });
    await orm.em
      .getConnection()
      .execute(sql)
      .finally(() => orm.close());
  };
  await admin(`create database ${name}`);
  return {
    db: { driver, url: `${PG_SERVER}/${name}` },
    drop: () => admin(`drop database if exists ${name} with (force)`),
  };
}

function step(seq: number, names: Record<string, string>): Step {
  const txId = `tx-${seq}`;
  const entries: OplogEntry[] = Object.entries(names).map(([id, name]) => ({
    source: SOURCE,
    incarnation: 'inc-1',
    seq,
    txId,
    epoch: 1,
    entity: 'Item',
    op: 'insert',
    pk: { id },
    after: { id, name },
  }));
  const cursor: Cursor = { incarnation: 'inc-1', seq, epoch: 1, txId };
  const head = { seq, epoch: 1 };
  return { source: SOURCE, entries, bytes: 0, page: undefined, cursor, covered: ['Item'], snapshot: undefined, head };
}

/**
 * The cursor guard on a real center database: two consumers' stores on it, one of them with a stale view (a process
 * paused since before the other wrote), as two processes would see it: each its own ORM.
 */
export function cursorGuardSuite(driver: 'sqlite' | 'postgresql'): void {
  describe(`the cursor guard (center on ${driver})`, () => {
    let center: Awaited<ReturnType<typeof centerDatabase>>;
    const orms: MikroORM[] = [];
    const open = async () => {
      const orm = await openOrm(center.db, { entities: [Item, ...replayEntities] });
      orms.push(orm);
      return orm;
    };
    const storeOn = (orm: MikroORM) => new DatabaseSourceStore(orm, createApplier(orm), (source) => ({ source }));
    const centerState = async (orm: MikroORM) => {
      const connection = orm.em.getConnection();
      const [cursor] = await connection.execute<{ seq: number | string; version: number | string }[]>(
        'select seq, version from oplog_consumer_cursor where source = ?',
        [SOURCE],
      );
      const items = await connection.execute<{ id: string; name: string }[]>('select id, name from item order by id');
      return { seq: Number(cursor?.seq), version: Number(cursor?.version), items };
    };

    beforeEach(async () => {
      center = await centerDatabase(driver);
      await (await open()).schema.updateSchema({ safe: true });
    });

    afterEach(async () => {
      for (const orm of orms.splice(0)) await orm.close();
      await center.drop();
    });

    it('refuses a stale step with OPLOG_CURSOR_CONFLICT, leaving the cursor row and the data as they were', async () => {
      const [ormA, ormB] = [await open(), await open()];
      const [a, b] = [storeOn(ormA), storeOn(ormB)];
      // B read the source before A wrote anything: the view of a process paused since.
      expect((await b.load(SOURCE)).cursor.seq).toBe(0);
      await a.load(SOURCE);
      await a.commit(step(1, { i1: 'v1', i2: 'v1' }));
      await a.commit(step(2, { i1: 'v2' }));
      const before = await centerState(ormA);
      expect(before).toMatchObject({ seq: 2, version: 2 });

      // B wakes up and commits what it had: the cursor would go back to 1 and i1 to its old value.
      await expect(b.commit(step(1, { i1: 'stale', i3: 'stale' }))).rejects.toMatchObject({
        code: 'OPLOG_CURSOR_CONFLICT',
      });
      await expect(
        b.restart({
          source: SOURCE,
          cursor: step(1, {}).cursor,
          covered: [],
          snapshot: undefined,
          head: step(1, {}).head,
        }),
      ).rejects.toMatchObject({ code: 'OPLOG_CURSOR_CONFLICT' });
      expect(await centerState(ormA)).toEqual(before);

      // Once it has read the record afresh (its next session), B builds on A's cursor; then A is the stale one.
      expect((await b.load(SOURCE)).cursor.seq).toBe(2);
      await b.commit(step(3, { i3: 'v3' }));
      await expect(a.commit(step(3, { i3: 'late' }))).rejects.toMatchObject({ code: 'OPLOG_CURSOR_CONFLICT' });
      expect(await centerState(ormA)).toMatchObject({ seq: 3, version: 3 });
      expect((await centerState(ormA)).items).toContainEqual({ id: 'i3', name: 'v3' });
    });

    it("starts a source's next session from the database's record, not from a stale memory", async () => {
      const [ormA, ormB] = [await open(), await open()];
      const a = storeOn(ormA);
      await a.load(SOURCE);
      await a.commit(step(1, { i1: 'v1' }));
      await a.commit(step(2, { i1: 'v2' }));
      // B's memory of the source is from before A wrote: blank, as a consumer loads it at its start.
      const state = new SourceReplay(SOURCE, { ...NO_RECORD, head: { seq: 0, epoch: 0 } }, storeOn(ormB));
      const hello = { incarnation: 'inc-1', head: { seq: 2, epoch: 1 }, oldest: 1 } as Hello;
      await state.start(hello, ['Item']);
      expect(state.cursor).toMatchObject({ incarnation: 'inc-1', seq: 2 });
      expect(await centerState(ormA)).toMatchObject({ seq: 2, version: 2 });
    });

    it('adds the version column to the cursor table of an older consumer, and guards its rows from there', async () => {
      const orm = await open();
      const connection = orm.em.getConnection();
      await storeOn(orm).load(SOURCE);
      await storeOn(orm).commit(step(1, { i1: 'v1' }));
      await connection.execute('alter table oplog_consumer_cursor drop column version');
      await orm.schema.updateSchema({ safe: true });
      expect(await centerState(orm)).toMatchObject({ seq: 1, version: 0 });
      const [fresh, stale] = [storeOn(orm), storeOn(orm)];
      await fresh.load(SOURCE);
      await fresh.commit(step(2, { i1: 'v2' }));
      await expect(stale.commit(step(2, { i1: 'stale' }))).rejects.toMatchObject({ code: 'OPLOG_CURSOR_CONFLICT' });
      expect(await centerState(orm)).toMatchObject({ seq: 2, version: 1, items: [{ id: 'i1', name: 'v2' }] });
    });
  });
}
