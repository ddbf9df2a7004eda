import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EntitySchema, type MikroORM } from '@mikro-orm/core';
import { createLogger, openOrm } from '@oplog/runtime';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Consumer, createConsumer } from './consumer.js';
import { consumerEntities } from './tables.js';

const Item = new EntitySchema<{ id: string }>({ name: 'Item', properties: { id: { type: 'string', primary: true } } });

let dir: string;
let orm: MikroORM;
let consumer: Consumer | undefined;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'oplog-wal-'));
  orm = await openOrm(
    { driver: 'sqlite', name: join(dir, 'central.sqlite') },
    { entities: [Item, ...consumerEntities] },
  );
  await orm.schema.updateSchema({ safe: true });
});

afterEach(async () => {
  await consumer?.stop();
  consumer = undefined;
  await orm.close();
  rmSync(dir, { recursive: true, force: true });
});

const pragma = async (name: string) => {
  const [row] = await orm.em.getConnection().execute<Record<string, unknown>[]>(`pragma ${name}`);
  return row?.[name];
};

describe('Consumer on SQLite', () => {
  it('switches its database to WAL with synchronous=FULL, so each commit is one fsync and still durable', async () => {
    expect(await pragma('journal_mode')).toBe('delete');
    consumer = createConsumer(orm, { port: 0, logger: createLogger({ level: 'silent' }) });
    await consumer.listen();
    expect(await pragma('journal_mode')).toBe('wal');
    expect(await pragma('synchronous')).toBe(2);
  });

  it('leaves the journal mode alone with sqliteWal: false', async () => {
    consumer = createConsumer(orm, { port: 0, sqliteWal: false, logger: createLogger({ level: 'silent' }) });
    await consumer.listen();
    expect(await pragma('journal_mode')).toBe('delete');
  });
});
