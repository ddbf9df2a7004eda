import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { EntitySchema, MikroORM, Options } from '@mikro-orm/core';
import { z } from 'zod';

export const dbConfigSchema = z.strictObject({
  driver: z.enum(['sqlite', 'postgresql']).default('sqlite'),
  /** SQLite: the file; PostgreSQL: the database name (or use url). */
  name: z.string().min(1).optional(),
  /** PostgreSQL connection string, e.g. postgresql://user@host:5432/db. */
  url: z.string().min(1).optional(),
  /** Connection pool size (PostgreSQL). */
  pool: z.number().int().positive().optional(),
});
export type DbConfig = z.infer<typeof dbConfigSchema>;

const SQLITE_BUSY_TIMEOUT_MS = 5000;

type AnyEntity = EntitySchema | (abstract new (...args: never[]) => object);

/**
 * Loads the app's entity definitions from a module: its `entities` export, else its default export, as an array.
 * Relative paths resolve against the working directory.
 */
export async function loadEntities(modulePath: string): Promise<AnyEntity[]> {
  const url = pathToFileURL(isAbsolute(modulePath) ? modulePath : resolve(modulePath)).href;
  const mod = (await import(url)) as { entities?: unknown; default?: unknown };
  const entities = mod.entities ?? mod.default;
  if (!Array.isArray(entities) || entities.length === 0) {
    throw new Error(`${modulePath} must export an array of entities as "entities" or as its default export`);
  }
  return entities as AnyEntity[];
}

/** Opens a MikroORM on SQLite or PostgreSQL; the driver package is loaded only when it is used. */
export async function openOrm(db: DbConfig, extra: Partial<Options>): Promise<MikroORM> {
  const common = {
    ...extra,
    debug: false,
    allowGlobalContext: false,
    discovery: { warnWhenNoEntities: false },
  } as Options;
  if (db.driver === 'sqlite') {
    const { MikroORM } = await import('@mikro-orm/sqlite');
    const orm = (await MikroORM.init({ ...common, dbName: db.name ?? 'oplog.sqlite' } as never)) as unknown as MikroORM;
    // Another process may write the same file (the sidecar's trims, `oplog-consumer sources add`): a write waits
    // for its lock up to this long instead of failing at once with SQLITE_BUSY.
    await orm.em.getConnection().execute(`pragma busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`);
    return orm;
  }
  const { MikroORM } = await import('@mikro-orm/postgresql');
  return (await MikroORM.init({
    ...common,
    ...(db.url ? { clientUrl: db.url } : { dbName: db.name ?? 'oplog', host: '127.0.0.1', user: 'postgres' }),
    ...(db.pool ? { pool: { min: 0, max: db.pool } } : {}),
  } as never)) as unknown as MikroORM;
}
