import pg from 'pg';
import { describe, it } from 'vitest';
import { CliProcess, ENTITIES_MODULE } from './support/cli.js';
import { failureLine, runCli } from './support/cli-run.js';
import { adminQuery } from './support/databases.js';
import { PG_URL } from './support/services.js';

// The PostgreSQL rows of cli-errors.test.ts, against the real server: a login it refuses, a database name with a
// typo (never created silently), and the flag that does create it.

const unique = (label: string) => `oplog_${label}_${process.pid}_${Date.now().toString(36)}`;

async function databaseExists(name: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: `${PG_URL}/postgres` });
  await client.connect();
  try {
    return (await client.query('select 1 from pg_database where datname = $1', [name])).rowCount === 1;
  } finally {
    await client.end();
  }
}

describe.concurrent('oplog-consumer start on PostgreSQL', () => {
  it('a role that does not exist: the login refused, --db-url named (exit 2)', async ({ expect }) => {
    const role = unique('no_role');
    const url = `${PG_URL.replace('//postgres@', `//${role}@`)}/postgres`;
    const run = await runCli('consumer', ['start', '--entities', ENTITIES_MODULE, '--db-url', url]);
    expect(failureLine(expect, run, 'oplog-consumer', 2)).toBe(
      `PostgreSQL refused the login (role "${role}" does not exist): fix the user or password in db.url (--db-url or OPLOG_DB__URL)`,
    );
  });

  it('a database name with a typo is not created; --db-url alone means PostgreSQL (exit 2)', async ({ expect }) => {
    const name = unique('typo');
    const run = await runCli('consumer', ['start', '--entities', ENTITIES_MODULE, '--db-url', `${PG_URL}/${name}`]);
    expect(failureLine(expect, run, 'oplog-consumer', 2)).toBe(
      `PostgreSQL has no database "${name}": fix the name in db.url (--db-url or OPLOG_DB__URL) or db.name (--db-name or OPLOG_DB__NAME), or pass --create-db to create it`,
    );
    expect(await databaseExists(name)).toBe(false);
  });

  it('--create-db creates a missing database, and the consumer starts on it', async ({ expect }) => {
    const name = unique('created');
    const args = [
      'start',
      '--port',
      '0',
      '--entities',
      ENTITIES_MODULE,
      '--db-url',
      `${PG_URL}/${name}`,
      '--create-db',
    ];
    const consumer = CliProcess.start('consumer', args);
    try {
      await consumer.waitForMessage('consumer listening', 60_000);
      expect(await databaseExists(name)).toBe(true);
    } finally {
      await consumer.kill();
      await adminQuery(`drop database if exists ${name} with (force)`);
    }
  }, 120_000);
});
