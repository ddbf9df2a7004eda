import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { PG_URL } from './services.js';

export type Driver = 'sqlite' | 'postgresql';

/** A throwaway database: a uniquely named PostgreSQL database, or an SQLite file in a temp directory. */
export interface TestDatabase {
  driver: Driver;
  /** For SQLite, the file path; for PostgreSQL, the database name. */
  dbName: string;
  /** PostgreSQL connection string (with the database), or undefined for SQLite. */
  clientUrl?: string;
  drop(): Promise<void>;
}

/**
 * Tests trade durability against a power loss for speed: SQLite files go to memory (/dev/shm, when the machine has
 * it) and PostgreSQL commits do not wait for the WAL flush. Killing a process, which is what the tests do, loses
 * nothing either way (the page cache and the server keep what committed). The bench asks for `durable` databases,
 * so that it measures what production pays.
 */
const MEMORY_DIR = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();

/** `server` is a PostgreSQL server's URL without a database (the shared one at PG_URL unless given). */
export async function createTestDatabase(
  driver: Driver,
  label = 'test',
  server = PG_URL,
  { durable = false } = {},
): Promise<TestDatabase> {
  const unique = `${label}_${process.pid}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
  if (driver === 'sqlite') {
    const dir = mkdtempSync(join(durable ? tmpdir() : MEMORY_DIR, 'oplog-'));
    return {
      driver,
      dbName: join(dir, `${unique}.sqlite`),
      drop: async () => rmSync(dir, { recursive: true, force: true }),
    };
  }
  const dbName = `oplog_${unique}`.toLowerCase().replace(/[^a-z0-9_]/g, '_');
  await adminQuery(`create database ${dbName}`, server);
  if (!durable) await adminQuery(`alter database ${dbName} set synchronous_commit = off`, server);
  return {
    driver,
    dbName,
    clientUrl: `${server}/${dbName}`,
    drop: () => adminQuery(`drop database if exists ${dbName} with (force)`, server),
  };
}

/** Runs one statement on the server's `postgres` database (create / drop database). */
export async function adminQuery(sql: string, server = PG_URL): Promise<void> {
  const client = new pg.Client({ connectionString: `${server}/postgres` });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}
