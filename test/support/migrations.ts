import { pollsEntities } from '@oplog/demo/entities';
import { type EntityList, openOrm } from '@oplog/runtime';
import { expect } from 'vitest';
import { type CliProcess, ENTITIES_MODULE } from './cli.js';
import { runCli } from './cli-run.js';
import type { TestDatabase } from './databases.js';
import { dbConfig } from './source-site.js';
import { SOURCE_ID, type StreamHarness } from './stream-harness.js';

/** What `oplog-consumer|producer schema sql` prints for a driver, checked to have succeeded. */
export async function printedSchema(cli: 'consumer' | 'producer', driver: TestDatabase['driver']): Promise<string> {
  const run = await runCli(cli, ['schema', 'sql', '--db-driver', driver]);
  expect(run.code, run.stderr).toBe(0);
  return run.stdout;
}

/**
 * Makes a database's tables as an app's migrations would: `ddl` (what a CLI's `schema sql` printed), then the
 * replicated entities' own tables, and nothing else.
 */
export async function migrate(db: TestDatabase, ddl: string): Promise<void> {
  const orm = await openOrm(dbConfig(db), { entities: pollsEntities });
  try {
    await orm.schema.execute(ddl);
    await orm.schema.createSchema();
  } finally {
    await orm.close();
  }
}

/** What MikroORM's schema generator would still change for `entities`: nothing once the migrations made them all. */
export async function pendingSchema(db: TestDatabase, entities: EntityList): Promise<string> {
  const orm = await openOrm(dbConfig(db), { entities });
  try {
    return (await orm.schema.getUpdateSchemaSQL({ wrap: false })).trim();
  } finally {
    await orm.close();
  }
}

/** The tables a database has, by name. */
export async function tableNames(db: TestDatabase): Promise<string[]> {
  const orm = await openOrm(dbConfig(db), { entities: [] });
  try {
    const sql =
      db.driver === 'sqlite'
        ? "select name from sqlite_master where type = 'table' and name not like 'sqlite_%' order by name"
        : "select tablename as name from pg_tables where schemaname = 'public' order by tablename";
    const rows: { name: string }[] = await orm.em.getConnection().execute(sql);
    return rows.map((row) => row.name);
  } finally {
    await orm.close();
  }
}

/**
 * Streams the scenario into a center whose tables came from migrations: the source's credential added and the
 * consumer started, both with --schema none, then a producer on `sourceDbArgs` (the source's database flags).
 * Resolves with that producer once it is spawned.
 */
export async function streamWithoutSchemaUpdates(h: StreamHarness, sourceDbArgs: string[]): Promise<CliProcess> {
  const added = await h.sources('add', SOURCE_ID, '--schema', 'none');
  expect(added.code, added.stderr).toBe(0);
  const consumer = await h.startConsumer(['--schema', 'none']);
  await h.scenario();
  const url = `ws://127.0.0.1:${consumer.port}/oplog`;
  return h.spawn('producer', 'producer', ['start', '--url', url, ...sourceDbArgs, '--entities', ENTITIES_MODULE], {
    OPLOG_TOKEN: added.stdout.trim(),
  });
}
