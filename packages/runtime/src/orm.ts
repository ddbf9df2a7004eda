import { existsSync, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { MikroORM, Options } from '@mikro-orm/core';
import { ConfigError } from './config.js';
import type { DbConfig } from './db-config.js';
import type { AppOrmConfig } from './orm-config.js';
import { type OrmPlan, planOrm } from './orm-options.js';

const SQLITE_BUSY_TIMEOUT_MS = 5000;
/** PostgreSQL's code for a database that does not exist. */
const NO_SUCH_DATABASE = '3D000';

/**
 * Opens a MikroORM on SQLite or PostgreSQL, over the app's own MikroORM config when one is given (see planOrm for
 * what overrides what); the driver package is loaded only when it is used. Nothing is created unless `db.create`
 * asks: a missing SQLite directory is a ConfigError, and PostgreSQL's own error is thrown as it came when the server
 * cannot be reached, refuses the login or has no such database (the CLIs word each one). With `connect: false` it
 * opens no connection at all (to generate SQL).
 */
export async function openOrm(db: DbConfig, extra: Partial<Options>, app?: AppOrmConfig): Promise<MikroORM> {
  const plan = planOrm(db, extra, app);
  const online = plan.options.connect !== false;
  if (online && plan.driver === 'sqlite') ensureSqliteDirectory(String(plan.options.dbName), plan, db.create);
  const orm = await initOrm(plan);
  if (!online) return orm;
  if (plan.driver === 'sqlite') {
    // Another process may write the same file (the sidecar's trims, `oplog-consumer sources add`): a write waits
    // for its lock up to this long instead of failing at once with SQLITE_BUSY.
    await orm.em.getConnection().execute(`pragma busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`);
    return orm;
  }
  const check = await orm.checkConnection();
  if (check.ok) return orm;
  if (db.create && (check.error as { code?: string } | undefined)?.code === NO_SUCH_DATABASE) {
    await orm.schema.ensureDatabase();
    return orm;
  }
  await orm.close(true);
  throw check.error ?? new Error(check.reason);
}

/** An app config's own driver class is used as it is (it may be better-sqlite); else the package for the kind. */
async function initOrm({ driver, options }: OrmPlan): Promise<MikroORM> {
  const { MikroORM } = options.driver
    ? await import('@mikro-orm/core')
    : driver === 'sqlite'
      ? await import('@mikro-orm/sqlite')
      : await import('@mikro-orm/postgresql');
  return (await MikroORM.init(options as never)) as unknown as MikroORM;
}

function ensureSqliteDirectory(file: string, plan: OrmPlan, create = false): void {
  const directory = dirname(resolve(file));
  if (existsSync(directory)) return;
  if (create) return void mkdirSync(directory, { recursive: true });
  throw new ConfigError(
    `the directory ${directory} of the SQLite file does not exist: fix the path, create the directory, or pass --create-db`,
    { setting: plan.databaseSetting },
  );
}
