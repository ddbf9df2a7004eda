import pg from 'pg';
import type { TestDatabase } from '../support/databases.js';

/** The table every step of the consumer writes (its cursor). */
const TABLE = 'oplog_consumer_cursor';

/**
 * The PostgreSQL center's "database locked": an ACCESS EXCLUSIVE lock on the cursor table, held for `ms` and then
 * on (up to `extraMs` more) until a statement of the consumer waits on it, since a lock nobody met proves nothing.
 * The consumer's steps block rather than fail, as they would behind an operator's long migration. Resolves with the
 * most statements seen waiting at once.
 */
export async function lockPgCenter(db: TestDatabase, ms: number, extraMs: number): Promise<number> {
  const client = new pg.Client({ connectionString: db.clientUrl });
  await client.connect();
  try {
    await client.query('begin');
    await client.query(`lock table ${TABLE} in access exclusive mode`);
    const start = Date.now();
    let waiters = 0;
    while (Date.now() < start + ms || (waiters === 0 && Date.now() < start + ms + extraMs)) {
      const { rows } = await client.query<{ n: number }>(
        `select count(*)::int as n from pg_locks where relation = '${TABLE}'::regclass and not granted`,
      );
      waiters = Math.max(waiters, rows[0]!.n);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await client.query('rollback');
    return waiters;
  } finally {
    await client.end();
  }
}
