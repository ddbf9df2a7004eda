import type { MikroORM } from '@mikro-orm/core';
import type { Logger } from '@oplog/runtime';

/**
 * Puts the consumer's own SQLite database in WAL mode with synchronous=FULL (a no-op on other databases).
 *
 * Why: the consumer commits once per applied batch and acks only after that commit. With SQLite's default
 * rollback journal a commit costs several fsyncs (≈4 ms here); in WAL it costs one fsync of the log (≈1 ms),
 * which is most of the commit-to-commit latency at low rates. FULL keeps each commit durable before the ack
 * (NORMAL would not: an acked batch could vanish on power loss, and the producer would already have trimmed it).
 *
 * The journal mode is stored in the database file, so it survives reconnects; synchronous is per connection,
 * and a connection the pool opens later gets the build's default, which for the bundled sqlite3 is FULL in WAL
 * mode too (SQLITE_DEFAULT_WAL_SYNCHRONOUS=2). Returns the journal mode in effect, or undefined if not SQLite.
 *
 * The page cache grows from SQLite's default 2 MiB to up to CACHE_MIB: every applied row also lands in the
 * ownership index, both with random keys, and with a small cache most of a catch-up's system time went to
 * reading evicted index pages back from the OS.
 */
const CACHE_MIB = 32;

export async function useSqliteWal(orm: MikroORM, logger: Logger): Promise<string | undefined> {
  if (!orm.em.getPlatform().constructor.name.includes('Sqlite')) return undefined;
  const connection = orm.em.getConnection();
  const [row] = await connection.execute<{ journal_mode: string }[]>('pragma journal_mode = wal');
  await connection.execute('pragma synchronous = full');
  await connection.execute(`pragma cache_size = -${CACHE_MIB * 1024}`);
  const mode = row?.journal_mode;
  // An in-memory database answers "memory"; anything else means SQLite could not switch (a network filesystem?).
  if (mode !== 'wal' && mode !== 'memory') {
    logger.warn({ journalMode: mode }, 'SQLite did not switch to WAL; every commit pays the rollback journal');
  }
  return mode;
}
