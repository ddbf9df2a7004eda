import type { Options } from '@mikro-orm/core';
import { ConfigError } from './config.js';
import { type DbConfig, driverOf, POSTGRES_URL } from './db-config.js';
import type { AppOrmConfig } from './orm-config.js';

export type DriverKind = 'sqlite' | 'postgresql';

/** What openOrm hands to MikroORM.init: the database kind, the options, and the setting that names the database. */
export interface OrmPlan {
  driver: DriverKind;
  options: Options;
  /** Named when the database cannot be found: `db.name`, or `ormConfig` when the app's config chose it. */
  databaseSetting: string;
}

/** The database when neither an app config nor db.name nor db.url says. */
const DEFAULTS = {
  sqlite: { dbName: 'oplog.sqlite' },
  postgresql: { dbName: 'oplog', host: '127.0.0.1', user: 'postgres' },
} as const;

/**
 * The options for one of our ORMs, in rising precedence:
 * 1. the app's MikroORM options (`ormConfig`), when given: naming strategy, schema, driver options, metadata
 *    provider, connection and the rest, less its subscribers (the center never captures, and the sidecar learns of
 *    commits by itself);
 * 2. `db.url`, `db.name` and `db.pool`, when set (by a flag, a variable or the config file), replace the
 *    connection; without an app config, the defaults (SQLite `oplog.sqlite`, PostgreSQL `oplog` on 127.0.0.1);
 * 3. the caller's `extra` (its entities above all) and what every CLI needs: no query log on stdout (the CLIs log
 *    JSON), no global context, and no database created unless `db.create` asks.
 */
export function planOrm(db: DbConfig, extra: Partial<Options>, app?: AppOrmConfig): OrmPlan {
  const driver = app ? appDriver(app, db) : driverOf(db);
  const base: Record<string, unknown> = app ? { ...app.options, subscribers: [], entitiesTs: [] } : {};
  // A connection string stands for the whole connection: the config's own parts would override its parts.
  if (db.url) for (const key of ['dbName', 'host', 'port', 'user', 'password']) delete base[key];
  Object.assign(base, db.url ? { clientUrl: db.url } : db.name ? { dbName: db.name } : app ? {} : DEFAULTS[driver]);
  if (base.dbName === undefined && base.clientUrl === undefined) {
    throw new ConfigError(
      `${app?.file} names no database: set dbName or clientUrl there, or give db.name (--db-name) or db.url (--db-url)`,
      { setting: 'ormConfig' },
    );
  }
  const discovery = { ...(base.discovery as object | undefined), warnWhenNoEntities: false };
  const options = {
    ...base,
    ...extra,
    debug: false,
    allowGlobalContext: false,
    // MikroORM would create a missing database at connect (and at every schema update): a typo would start on an
    // empty database. openOrm checks instead, and creates only when asked.
    ensureDatabase: false,
    discovery,
    ...(driver === 'postgresql' && db.pool ? { pool: { min: 0, max: db.pool } } : {}),
  } as Options;
  return { driver, options, databaseSetting: app && !db.name && !db.url ? 'ormConfig' : 'db.name' };
}

/** The database an app config is for: its driver's, which `db.driver` and `db.url` may only agree with. */
function appDriver(app: AppOrmConfig, db: DbConfig): DriverKind {
  const declared = app.options.driver ? driverKind(app) : undefined;
  if (declared && db.driver && db.driver !== declared) {
    throw new ConfigError(`is ${db.driver}, but ${app.file} uses ${declared}: drop it (the config's driver applies)`, {
      setting: 'db.driver',
    });
  }
  const url = db.url ?? String(app.options.clientUrl ?? '');
  const chosen = declared ?? db.driver ?? (POSTGRES_URL.test(url) ? 'postgresql' : 'sqlite');
  if (chosen === 'sqlite' && db.url) {
    throw new ConfigError(`is a PostgreSQL connection string, but ${app.file} uses SQLite: drop it, or use db.name`, {
      setting: 'db.url',
    });
  }
  return chosen;
}

function driverKind(app: AppOrmConfig): DriverKind {
  const name = (app.options.driver as { name?: string }).name ?? String(app.options.driver);
  if (/postgre/i.test(name)) return 'postgresql';
  if (/sqlite/i.test(name)) return 'sqlite';
  throw new ConfigError(`${app.file} uses ${name}: oplog-stream runs on PostgreSQL and SQLite only`, {
    setting: 'ormConfig',
  });
}
