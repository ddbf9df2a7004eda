import { watch } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { MikroORM } from '@mikro-orm/core';
import { OplogCapture, onPostgres } from '@oplog/capture';
import pg from 'pg';
import { ensureNotifyTrigger, NOTIFY_CHANNEL } from './notify-trigger.js';

export type WakeSource = 'capture' | 'notify' | 'file-watch';

export interface Wakeup {
  /** How new commits are noticed, besides the fallback poll. */
  readonly source: WakeSource | 'poll';
  close(): Promise<void>;
}

/**
 * Calls `wake` soon after a commit appends to the outbox, by the cheapest means available:
 * - embedded (capture registered on this ORM): capture's after-commit event, in-process;
 * - PostgreSQL sidecar: LISTEN/NOTIFY, from a statement trigger on the outbox (so the app's path sends nothing),
 *   created here unless the app's migrations made it (see notify-trigger.ts);
 * - SQLite sidecar: a file watch on the database's directory (the db, -wal and -journal files change on commit).
 * A poll every `pollMs` backs all of them up, so a lost notification costs latency, never data.
 */
export async function watchCommits(orm: MikroORM, wake: () => void, pollMs: number): Promise<Wakeup> {
  const timer = setInterval(wake, pollMs);
  timer.unref();
  const stopPoll = async () => clearInterval(timer);

  const capture = OplogCapture.registeredOn(orm);
  if (capture) {
    const off = capture.onCommit(wake);
    return {
      source: 'capture',
      close: async () => {
        off();
        await stopPoll();
      },
    };
  }

  if (onPostgres(orm.em.getPlatform())) {
    const client = await listen(orm, wake);
    return {
      source: 'notify',
      close: async () => {
        await stopPoll();
        await client.end();
      },
    };
  }

  const file = orm.config.get('dbName');
  if (file && file !== ':memory:') {
    const name = basename(file);
    const watcher = watch(dirname(file), (_event, changed) => {
      if (!changed || changed.startsWith(name)) wake();
    });
    watcher.unref();
    return {
      source: 'file-watch',
      close: async () => {
        watcher.close();
        await stopPoll();
      },
    };
  }
  return { source: 'poll', close: stopPoll };
}

async function listen(orm: MikroORM, wake: () => void): Promise<pg.Client> {
  const connection = orm.em.getConnection() as unknown as { getConnectionOptions(): pg.ClientConfig };
  await ensureNotifyTrigger(orm.em.getConnection());
  const client = new pg.Client(connection.getConnectionOptions());
  client.on('notification', wake);
  // A broken LISTEN connection only costs latency (the poll still runs); it must not crash the producer.
  client.on('error', () => {});
  await client.connect();
  await client.query(`listen ${NOTIFY_CHANNEL}`);
  return client;
}
