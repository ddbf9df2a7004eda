/** The databases a bench run owns: SQLite files in temp directories, or databases on a PostgreSQL server. */
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DbConfig } from '@oplog/runtime';
import { adminQuery, createTestDatabase, type Driver } from '@oplog/testing/databases';

export type { Driver };

export interface Db {
  driver: Driver;
  /** SQLite file, or PostgreSQL database name. */
  name: string;
  /** PostgreSQL: the server's URL without a database, and the database's URL. */
  server?: string;
  url?: string;
  drop(): Promise<void>;
}

/** `server`: a PostgreSQL server's URL without a database (ignored for SQLite). */
export async function newDb(driver: Driver, label: string, server?: string): Promise<Db> {
  const db = await createTestDatabase(driver, label, server, { durable: true });
  return { driver, name: db.dbName, url: db.clientUrl, server, drop: db.drop };
}

/** A copy of `template`, so that every round starts from the same backlog without building it again. */
export async function cloneDb(template: Db, label: string): Promise<Db> {
  if (template.driver === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'oplog-'));
    const name = join(dir, `${label}.sqlite`);
    copyFileSync(template.name, name);
    return { driver: 'sqlite', name, drop: async () => rmSync(dir, { recursive: true, force: true }) };
  }
  const copy = await newDb('postgresql', label, template.server);
  // createTestDatabase made it empty: make it again, as a copy of the template.
  await adminQuery(`drop database ${copy.name}`, template.server);
  await adminQuery(`create database ${copy.name} template ${template.name}`, template.server);
  return copy;
}

export function dbConfig(db: Db): DbConfig {
  return db.driver === 'sqlite' ? { driver: 'sqlite', name: db.name } : { driver: 'postgresql', url: db.url };
}

export function dbFlags(db: Db): string[] {
  return db.driver === 'sqlite'
    ? ['--db-driver', 'sqlite', '--db-name', db.name]
    : ['--db-driver', 'postgresql', '--db-url', db.url!];
}
