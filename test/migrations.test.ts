import { consumerEntities } from '@oplog/consumer';
import { pollsEntities } from '@oplog/demo/entities';
import { describe, expect, it } from 'vitest';
import { ENTITIES_MODULE } from './support/cli.js';
import { failureLine, runCli } from './support/cli-run.js';
import { createTestDatabase } from './support/databases.js';
import { migrate, pendingSchema, printedSchema, streamWithoutSchemaUpdates, tableNames } from './support/migrations.js';
import { dbArgs, harnessPerTest, waitForConvergence } from './support/stream-harness.js';

// The center's tables in the app's migrations: `oplog-consumer schema sql` prints the consumer's own, and a consumer
// started with --schema none creates none of them. (migrations.pg.test.ts: the same on PostgreSQL, with the
// producer's outbox and trigger.)

describe('oplog-consumer --schema none, on SQLite', () => {
  const createHarness = harnessPerTest();

  it("streams into tables made only from `schema sql` and the app's own entities", async () => {
    const h = await createHarness('sqlite', 'sqlite');
    await migrate(h.target, await printedSchema('consumer', 'sqlite'));
    // The printed DDL is all MikroORM would make of the consumer's entities: nothing left to update.
    expect(await pendingSchema(h.target, [...pollsEntities, ...consumerEntities])).toBe('');
    const migrated = await tableNames(h.target);

    await streamWithoutSchemaUpdates(h, dbArgs(h.source));
    await waitForConvergence(h);
    // The consumer made no table but its SQLite lock's lease (which holds in every schema mode).
    expect(await tableNames(h.target)).toEqual([...migrated, 'oplog_consumer_lease'].sort());
  }, 120_000);

  it('on an empty database, fails in one line naming the missing table and `schema sql` (exit 2)', async () => {
    const center = await createTestDatabase('sqlite', 'empty_center');
    try {
      const args = ['start', '--schema', 'none', '--entities', ENTITIES_MODULE, ...dbArgs(center)];
      const line = failureLine(expect, await runCli('consumer', args), 'oplog-consumer', 2);
      expect(line).toMatch(
        /^the database has no table oplog_consumer_cursor: check that db\.name .* is the right database; /,
      );
      expect(line).toContain('`oplog-consumer schema sql`');
    } finally {
      await center.drop();
    }
  }, 60_000);
});
