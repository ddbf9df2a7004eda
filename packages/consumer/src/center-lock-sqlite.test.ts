import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, openOrm } from '@oplog/runtime';
import { afterEach, describe, expect, it } from 'vitest';
import { createConsumer } from './consumer.js';
import { consumerEntities } from './tables.js';

describe('the SQLite center lease', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('outlives renewals that fail for longer than the lease lasts (the database locked, or full), and keeps it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'oplog-lease-'));
    dirs.push(dir);
    const name = join(dir, 'center.sqlite');
    const orm = await openOrm({ driver: 'sqlite', name }, { entities: consumerEntities });
    await orm.schema.updateSchema({ safe: true });
    // A lease of 6 × 100 ms, and a database no renewal can write for 6.5 s (past the busy timeout too).
    const consumer = createConsumer(orm, { port: 0, lockCheckMs: 100, logger: createLogger({ level: 'silent' }) });
    await consumer.listen();
    let stopped = false;
    const running = consumer.run().then(() => (stopped = true));
    const blocker = await openOrm({ driver: 'sqlite', name }, { entities: consumerEntities });
    try {
      const connection = blocker.em.getConnection();
      await connection.execute('pragma busy_timeout = 0');
      // One connection in the pool: the exclusive transaction holds the file until its commit.
      await connection.execute('begin exclusive');
      await new Promise((resolve) => setTimeout(resolve, 6500));
      await connection.execute('commit');
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(stopped, 'the consumer stopped on a renewal that failed').toBe(false);
      const [lease] = await connection.execute<{ holder: string; expires_at: number }[]>(
        'select holder, expires_at from oplog_consumer_lease',
      );
      expect(Number(lease!.expires_at), 'the lease is renewed again').toBeGreaterThan(Date.now());
    } finally {
      await blocker.close();
      await consumer.stop();
      await running;
      await orm.close();
    }
  }, 30_000);
});
