import { oplogEntities } from '@oplog/capture';
import { consumerEntities } from '@oplog/consumer';
import { pollsEntities } from '@oplog/demo/entities';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { adminQuery, type TestDatabase } from './support/databases.js';
import { migrate, pendingSchema, printedSchema, streamWithoutSchemaUpdates } from './support/migrations.js';
import { PG_URL } from './support/services.js';
import { harnessPerTest, waitForConvergence } from './support/stream-harness.js';

// Both sides' tables made by the apps' migrations from what `schema sql` printed, on PostgreSQL: the consumer with
// --schema none, and the producer as a role that may read and trim the outbox but create nothing (the trigger that
// wakes it comes from the migration, so it needs no rights to DDL at start, and takes no lock on the outbox).

const roles: string[] = [];
afterAll(async () => {
  for (const role of roles) await adminQuery(`drop role if exists ${role}`);
});

/** A login role on `db` that may read every table and write the outbox's, and nothing else (no CREATE anywhere). */
async function sidecarRole(db: TestDatabase): Promise<string> {
  const role = `oplog_sidecar_${process.pid}_${Date.now().toString(36)}`;
  await adminQuery(`create role ${role} login`);
  roles.push(role);
  const client = new pg.Client({ connectionString: db.clientUrl });
  await client.connect();
  try {
    await client.query(`revoke create on schema public from public; grant select on all tables in schema public to ${role};
      grant insert, update, delete on oplog_source, oplog_entry to ${role}`);
  } finally {
    await client.end();
  }
  return `${PG_URL.replace('//postgres@', `//${role}@`)}/${db.dbName}`;
}

/** The outbox's notify triggers, by name. */
async function triggers(db: TestDatabase): Promise<string[]> {
  const client = new pg.Client({ connectionString: db.clientUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ tgname: string }>(
      "select tgname from pg_trigger where tgrelid = to_regclass('oplog_entry') and not tgisinternal",
    );
    return rows.map((row) => row.tgname);
  } finally {
    await client.end();
  }
}

describe('both sides on tables from `schema sql`, on PostgreSQL', () => {
  const createHarness = harnessPerTest();

  it('a producer that may create nothing wakes on the migrated trigger; the consumer runs with --schema none', async () => {
    const h = await createHarness('postgresql', 'postgresql');
    await migrate(h.target, await printedSchema('consumer', 'postgresql'));
    await migrate(h.source, await printedSchema('producer', 'postgresql'));
    // The printed DDL is all MikroORM would make of each side's entities, and the trigger is there once.
    expect(await pendingSchema(h.target, [...pollsEntities, ...consumerEntities])).toBe('');
    expect(await pendingSchema(h.source, [...pollsEntities, ...oplogEntities])).toBe('');
    expect(await triggers(h.source)).toEqual(['oplog_stream_notify']);
    const sidecarUrl = await sidecarRole(h.source);

    const producer = await streamWithoutSchemaUpdates(h, ['--db-url', sidecarUrl]);
    expect(await producer.waitForMessage('producer started')).toMatchObject({ wake: 'notify' });
    await waitForConvergence(h);
    expect(await triggers(h.source)).toEqual(['oplog_stream_notify']);
  }, 120_000);
});
