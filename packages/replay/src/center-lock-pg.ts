import { createHash } from 'node:crypto';
import type { MikroORM } from '@mikro-orm/core';
import { OplogError } from '@oplog/protocol';
import {
  type CenterLock,
  type CenterLockOptions,
  describeHolder,
  type LockHolder,
  LossReporter,
} from './lock-holder.js';

/** The raw node-postgres client knex connects (only what is used here). */
interface PgClient {
  query<R>(sql: string, params?: unknown[]): Promise<{ rows: R[] }>;
  on(event: 'error' | 'end', listener: (error?: Error) => void): void;
}

interface KnexPgClient {
  acquireRawConnection(): Promise<PgClient>;
  destroyRawConnection(connection: PgClient): Promise<void>;
}

/**
 * The advisory lock's two int4 keys, derived from a fixed name: every consumer of a database contends on the same
 * lock, and an application's own advisory locks are unlikely to collide with it. Advisory locks belong to one
 * database, so consumers of two databases on one server never contend.
 */
const [KEY_1, KEY_2] = (() => {
  const digest = createHash('sha256').update('oplog-stream: one consumer per center database').digest();
  return [digest.readUInt32BE(0) & 0x7fffffff, digest.readUInt32BE(4) & 0x7fffffff] as const;
})();

/** The lock session's application_name starts with this. */
const APPLICATION = 'oplog-consumer';

/** A check that gets no answer within this many check periods loses the lock (a half-open connection). */
const CHECK_TIMEOUT_PERIODS = 6;

/**
 * A session-level advisory lock (`pg_try_advisory_lock`) on a connection of its own, outside the ORM's pool so that
 * it never takes a pooled connection away from the apply loop. PostgreSQL releases it when that session ends, so a
 * crashed consumer never blocks the next one. Held while the connection lives: an error or end of that connection,
 * or a check it does not answer in time, loses it.
 */
export async function advisoryLock(orm: MikroORM, holder: LockHolder, options: CenterLockOptions): Promise<CenterLock> {
  const client = (orm.em.getConnection() as unknown as { getKnex(): { client: KnexPgClient } }).getKnex().client;
  const connection = await client.acquireRawConnection();
  const destroy = () => client.destroyRawConnection(connection).catch(() => {});
  try {
    // Shown in pg_stat_activity, so that a refused consumer can name this one (at most 63 bytes are kept).
    await connection.query(`select set_config('application_name', $1, false)`, [
      `${APPLICATION} ${holder.pid}@${holder.host}`,
    ]);
    const [row] = (
      await connection.query<{ locked: boolean }>('select pg_try_advisory_lock($1, $2) as locked', [KEY_1, KEY_2])
    ).rows;
    if (!row?.locked) throw OplogError.centerLocked(await currentHolder(connection));
  } catch (error) {
    await destroy();
    throw error;
  }
  const reporter = new LossReporter(options.onLost);
  connection.on('error', (error) =>
    reporter.lose(OplogError.centerLockLost(`its connection failed (${error?.message})`)),
  );
  connection.on('end', () => reporter.lose(OplogError.centerLockLost('its connection closed')));
  let checking = false;
  const timer = setInterval(() => {
    if (checking) return;
    checking = true;
    const timeoutMs = options.checkMs * CHECK_TIMEOUT_PERIODS;
    let timeout: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timeout = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    });
    Promise.race([connection.query('select 1'), late])
      .catch((error: Error) =>
        reporter.lose(OplogError.centerLockLost(`its connection stopped answering (${error.message})`)),
      )
      .finally(() => {
        clearTimeout(timeout);
        checking = false;
      });
  }, options.checkMs);
  timer.unref();
  return {
    async release() {
      reporter.released();
      clearInterval(timer);
      // Ending the session releases its advisory locks.
      await destroy();
    },
  };
}

/** The session that holds the lock, as pg_stat_activity shows it (another role's may be hidden). */
async function currentHolder(connection: PgClient): Promise<string | undefined> {
  const { rows } = await connection
    .query<{ pid: number; application_name: string | null; client_addr: string | null; backend_start: Date }>(
      `select a.pid, a.application_name, host(a.client_addr) as client_addr, a.backend_start
         from pg_locks l join pg_stat_activity a on a.pid = l.pid
        where l.locktype = 'advisory' and l.granted and l.objsubid = 2
          and l.classid::bigint = $1 and l.objid::bigint = $2
          and l.database = (select oid from pg_database where datname = current_database())`,
      [KEY_1, KEY_2],
    )
    .catch(() => ({ rows: [] }));
  const [row] = rows;
  if (!row) return undefined;
  const ours = new RegExp(`^${APPLICATION} (\\d+)@(.*)$`).exec(row.application_name ?? '');
  const since = row.backend_start ? new Date(row.backend_start).getTime() : Date.now();
  if (ours) return describeHolder({ pid: Number(ours[1]), host: ours[2]!, since });
  return `PostgreSQL backend ${row.pid}${row.client_addr ? ` from ${row.client_addr}` : ''}`;
}
