import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EntityCaseNamingStrategy, EntitySchema, type EventSubscriber } from '@mikro-orm/core';
import { PostgreSqlDriver } from '@mikro-orm/postgresql';
import { SqliteDriver } from '@mikro-orm/sqlite';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from './config.js';
import { openOrm } from './orm.js';
import type { AppOrmConfig } from './orm-config.js';
import { planOrm } from './orm-options.js';

const dir = mkdtempSync(join(tmpdir(), 'oplog-orm-options-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const app = (options: Record<string, unknown>): AppOrmConfig => ({ file: '/app/mikro-orm.config.js', options });
const refusal = (run: () => unknown) => {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return { setting: (error as ConfigError).setting, message: (error as Error).message };
  }
  throw new Error('no ConfigError');
};

describe('planOrm: what overrides what', () => {
  const pgApp = app({
    driver: PostgreSqlDriver,
    dbName: 'shop',
    host: 'db.internal',
    user: 'shop',
    password: 'secret',
    driverOptions: { connection: { ssl: true } },
  });

  it("keeps the app's options and connection when no db setting is given", () => {
    const plan = planOrm({}, { entities: [] }, pgApp);
    expect(plan.driver).toBe('postgresql');
    expect(plan.options).toMatchObject({
      dbName: 'shop',
      host: 'db.internal',
      driverOptions: { connection: { ssl: true } },
    });
    expect(plan.databaseSetting).toBe('ormConfig');
  });

  it('replaces the whole connection with db.url, and only the database with db.name', () => {
    const url = 'postgresql://center@10.0.0.9/central';
    const byUrl = planOrm({ url }, {}, pgApp).options;
    expect(byUrl).toMatchObject({ clientUrl: url, driverOptions: { connection: { ssl: true } } });
    for (const key of ['dbName', 'host', 'user', 'password']) expect(byUrl).not.toHaveProperty(key);
    expect(planOrm({ name: 'central' }, {}, pgApp).options).toMatchObject({ dbName: 'central', host: 'db.internal' });
  });

  it("never takes the app's subscribers or query log; the caller's entities and db.pool win", () => {
    const subscriber: EventSubscriber = {};
    const withAll = app({
      driver: SqliteDriver,
      dbName: 'a.sqlite',
      subscribers: [subscriber],
      debug: true,
      entities: ['x'],
    });
    const plan = planOrm({ pool: 3 }, { entities: ['y'] }, withAll);
    expect(plan.options).toMatchObject({ subscribers: [], debug: false, entities: ['y'], ensureDatabase: false });
    expect(planOrm({ pool: 3 }, { pool: { min: 1, max: 2 } }, pgApp).options.pool).toEqual({ min: 0, max: 3 });
  });

  it("takes the driver from the app's driver, else from its connection string", () => {
    expect(planOrm({}, {}, app({ clientUrl: 'postgres://a@b/c' })).driver).toBe('postgresql');
    expect(planOrm({}, {}, app({ dbName: 'a.sqlite' })).driver).toBe('sqlite');
  });

  it('refuses a db.driver or db.url that contradicts the app config, and a driver we do not run on', () => {
    expect(refusal(() => planOrm({ driver: 'sqlite' }, {}, pgApp))).toEqual({
      setting: 'db.driver',
      message: "is sqlite, but /app/mikro-orm.config.js uses postgresql: drop it (the config's driver applies)",
    });
    const sqliteApp = app({ driver: SqliteDriver, dbName: 'a.sqlite' });
    expect(refusal(() => planOrm({ url: 'postgresql://a@b/c' }, {}, sqliteApp)).setting).toBe('db.url');
    class MySqlDriver {}
    expect(refusal(() => planOrm({}, {}, app({ driver: MySqlDriver, dbName: 'x' })))).toEqual({
      setting: 'ormConfig',
      message: '/app/mikro-orm.config.js uses MySqlDriver: oplog-stream runs on PostgreSQL and SQLite only',
    });
    expect(refusal(() => planOrm({}, {}, app({ driver: SqliteDriver }))).message).toMatch(/names no database/);
  });
});

describe("openOrm over an app's config", () => {
  it("applies the app's naming strategy to the tables it creates, without its subscribers", async () => {
    const Counter = new EntitySchema<{ id: number; countedAt: number }>({
      name: 'Counter',
      properties: { id: { type: 'integer', primary: true }, countedAt: { type: 'bigint' } },
    });
    const onFlush: EventSubscriber = { afterFlush: () => {} };
    const file = join(dir, 'app.sqlite');
    const config = app({ dbName: file, namingStrategy: EntityCaseNamingStrategy, subscribers: [onFlush] });
    const orm = await openOrm({}, { entities: [Counter] }, config);
    try {
      await orm.schema.updateSchema();
      const columns: { name: string }[] = await orm.em
        .getConnection()
        .execute("select name from pragma_table_info('Counter')");
      expect(columns.map((c) => c.name)).toEqual(['id', 'countedAt']);
      expect(orm.em.getEventManager().getSubscribers()).not.toContain(onFlush);
    } finally {
      await orm.close();
    }
  });

  it("names the app's config when the directory of its SQLite file is missing", async () => {
    const config = app({ dbName: join(dir, 'missing', 'app.sqlite') });
    const error = await openOrm({}, { entities: [] }, config).catch((e: unknown) => e);
    expect((error as ConfigError).setting).toBe('ormConfig');
  });
});
