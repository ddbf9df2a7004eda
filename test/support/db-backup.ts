import { copyFileSync, rmSync } from 'node:fs';
import { adminQuery, type TestDatabase } from './databases.js';

/**
 * Copies a database aside, as an operator's backup: the SQLite file (`<file>.backup`), or a PostgreSQL database
 * cloned from it (`<name>_backup`). Every connection to it must be closed first (PostgreSQL clones only an idle
 * database; SQLite copies a whole file only when nobody writes).
 */
export async function backupDatabase(db: TestDatabase): Promise<void> {
  if (db.driver === 'sqlite') copyFileSync(db.dbName, `${db.dbName}.backup`);
  else {
    await dropBackup(db);
    await adminQuery(`create database ${db.dbName}_backup template ${db.dbName}`);
  }
}

/** Puts the backup back in place of the database (every connection to it must be closed). */
export async function restoreDatabase(db: TestDatabase): Promise<void> {
  const { dbName } = db;
  if (db.driver === 'sqlite') {
    for (const suffix of ['-journal', '-wal', '-shm']) rmSync(`${dbName}${suffix}`, { force: true });
    copyFileSync(`${dbName}.backup`, dbName);
  } else {
    await adminQuery(`drop database ${dbName} with (force)`);
    await adminQuery(`create database ${dbName} template ${dbName}_backup`);
  }
}

/** Drops a PostgreSQL backup (an SQLite one goes with its database's directory). */
export async function dropBackup(db: TestDatabase): Promise<void> {
  if (db.driver === 'postgresql') await adminQuery(`drop database if exists ${db.dbName}_backup with (force)`);
}
