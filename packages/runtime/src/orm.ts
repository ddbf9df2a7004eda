import { existsSync, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { MikroORM, Options } from '@mikro-orm/core';
import { ConfigError } from './config.js';
import { type DbConfig, driverOf } from './db-config.js';

const SQLITE_BUSY_TIMEOUT_MS = 5000;
/** PostgreSQL's code for a database that does not exist. */
const NO_SUCH_DATABASE = '3D000';

/**
 * Opens a MikroORM on SQLite or PostgreSQL; the driver package is loaded only when it is used. Nothing is created
 * unless `db.create` asks: a missing SQLite directory is a ConfigError, and PostgreSQL's own error is thrown as it
 * came when the server cannot be reached, refuses the login or has no such database (the CLIs word each one).
 */
export async function openOrm(db: DbConfig, extra: Partial<Options>): Promise<MikroORM> {
  const common = {
    ...extra,
    debug: false,
    allowGlobalContext: false,
    // MikroORM would create a missing database at connect (and at every schema update): a typo would start on an
    // empty database. openOrm checks instead, and creates only when asked.
    ensureDatabase: false,
    discovery: { warnWhenNoEntities: false },
  } as Options;
  if (driverOf(db) === 'sqlite') {
    const file = db.name ?? 'oplog.sqlite';
    ensureSqliteDirectory(file, db.create);
    const { MikroORM } = await import('@mikro-orm/sqlite');
    const orm = (await MikroORM.init({ ...common, dbName: file } as never)) as unknown as MikroORM;
    // Another process may write the same file (the sidecar's trims, `oplog-consumer sources add`): a write waits
    // for its lock up to this long instead of failing at once with SQLITE_BUSY.
    await orm.em.getConnection().execute(`pragma busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`);
    return orm;
  }
  const { MikroORM } = await import('@mikro-orm/postgresql');
  const orm = (await MikroORM.init({
    ...common,
    ...(db.url ? { clientUrl: db.url } : { dbName: db.name ?? 'oplog', host: '127.0.0.1', user: 'postgres' }),
    ...(db.pool ? { pool: { min: 0, max: db.pool } } : {}),
  } as never)) as unknown as MikroORM;
  const check = await orm.checkConnection();
  if (check.ok) return orm;
  if (db.create && (check.error as { code?: string } | undefined)?.code === NO_SUCH_DATABASE) {
    await orm.schema.ensureDatabase();
    return orm;
  }
  await orm.close(true);
  throw check.error ?? new Error(check.reason);
}

function ensureSqliteDirectory(file: string, create = false): void {
  const directory = dirname(resolve(file));
  if (existsSync(directory)) return;
  if (create) return void mkdirSync(directory, { recursive: true });
  throw new ConfigError(
    `the directory ${directory} of the SQLite file does not exist: fix the path, create the directory, or pass --create-db`,
    { setting: 'db.name' },
  );
}
