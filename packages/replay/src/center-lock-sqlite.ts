import type { Connection, MikroORM } from '@mikro-orm/core';
import { OplogError } from '@oplog/protocol';
import {
  type CenterLock,
  type CenterLockOptions,
  describeHolder,
  type LockHolder,
  LossReporter,
} from './lock-holder.js';
import { TABLES } from './tables.js';

const TABLE = TABLES.lease;
const NAME = 'center';

/** A lease lasts this many check periods: renewed every period, it survives a few slow or failed renewals. */
export const LEASE_CHECKS = 6;

interface LeaseRow {
  holder: string;
  pid: number | string;
  host: string;
  since: number | string;
  expires_at: number | string;
}

/**
 * SQLite has no advisory locks, and a lock held by a connection of our own would block our own writers (SQLite locks
 * the whole file), or need a second file. So the lock is a lease: one row (holder id, pid, host, since, expiry) that
 * the holder renews every check and deletes at stop. A crashed holder blocks no one for long: its lease expires, and
 * on the same host a newcomer takes over at once when the holder's pid is gone. The row goes through the ORM's own
 * connection, and names the holder for a refused consumer. The table is created here rather than by updateSchema:
 * the lock must hold whatever schema mode the consumer runs with.
 *
 * A holder paused longer than its lease (SIGSTOP, a frozen VM) can have it taken over. It finds out at its next
 * renewal and stops; a step it commits before that is refused by the cursor guard (cursor-guard.ts).
 */
export async function leaseLock(orm: MikroORM, holder: LockHolder, options: CenterLockOptions): Promise<CenterLock> {
  const connection = () => orm.em.getConnection('write');
  const leaseMs = options.checkMs * LEASE_CHECKS;
  await connection().execute(
    `create table if not exists ${TABLE} (name text primary key, holder text not null, pid integer not null,
       host text not null, since integer not null, expires_at integer not null)`,
  );
  const current = await read(connection());
  const dead = current && current.host === holder.host && !alive(Number(current.pid)) ? current.holder : '';
  const now = Date.now();
  await connection().execute(
    `insert into ${TABLE} (name, holder, pid, host, since, expires_at) values (?, ?, ?, ?, ?, ?)
     on conflict (name) do update set holder = excluded.holder, pid = excluded.pid, host = excluded.host,
       since = excluded.since, expires_at = excluded.expires_at
     where ${TABLE}.expires_at < ? or ${TABLE}.holder = ?`,
    [NAME, holder.id, holder.pid, holder.host, holder.since, now + leaseMs, now, dead],
  );
  const taken = await read(connection());
  if (taken?.holder !== holder.id) throw OplogError.centerLocked(taken && describeRow(taken));

  const reporter = new LossReporter(options.onLost);
  let renewing = false;
  const renew = async () => {
    await connection().execute(`update ${TABLE} set expires_at = ? where name = ? and holder = ?`, [
      Date.now() + leaseMs,
      NAME,
      holder.id,
    ]);
    const row = await read(connection());
    if (row?.holder !== holder.id) {
      const by = row ? `another consumer took over its lease (${describeRow(row)})` : 'its lease row was deleted';
      reporter.lose(OplogError.centerLockLost(by));
    }
  };
  const timer = setInterval(() => {
    if (renewing) return;
    renewing = true;
    // A renewal that fails (the database full, busy or unreachable) is retried at the next check, however long that
    // takes: a holder that cannot write its lease cannot write anything else there either, and once it can, the next
    // renewal sees whether another consumer took the expired lease meanwhile (then it stops). A step committed in
    // between is refused by the cursor guard. Stopping on the failure itself would turn a full disk into an outage.
    renew()
      .catch(() => {})
      .finally(() => (renewing = false));
  }, options.checkMs);
  timer.unref();
  return {
    async release() {
      reporter.released();
      clearInterval(timer);
      await connection()
        .execute(`delete from ${TABLE} where name = ? and holder = ?`, [NAME, holder.id])
        .catch(() => {});
    },
  };
}

async function read(connection: Connection): Promise<LeaseRow | undefined> {
  const [row] = await connection.execute<LeaseRow[]>(`select * from ${TABLE} where name = ?`, [NAME]);
  return row;
}

function describeRow(row: LeaseRow): string {
  return describeHolder({ pid: Number(row.pid), host: row.host, since: Number(row.since) });
}

/** Whether a process of this host still runs (EPERM: it does, as another user's). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
