import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { MikroORM } from '@mikro-orm/core';
import { onPostgres } from '@oplog/capture';
import type { OplogError } from '@oplog/protocol';
import { advisoryLock } from './center-lock-pg.js';
import { leaseLock } from './center-lock-sqlite.js';
import type { CenterLock, CenterLockOptions, LockHolder } from './lock-holder.js';

/**
 * One consumer per center database, until scale-out exists: two consumers applying the same sources would each
 * fence producers in their own memory, and a paused one could roll the other's rows back. A consumer takes this
 * lock first thing in `listen()` and holds it until `stop()`; a second one on the same database is refused with
 * OPLOG_CENTER_LOCKED, naming the holder when it is known. PostgreSQL: a session advisory lock; SQLite: a lease row.
 */
export function acquireCenterLock(orm: MikroORM, options: CenterLockOptions): Promise<CenterLock> {
  const holder: LockHolder = { id: randomUUID(), pid: process.pid, host: hostname(), since: Date.now() };
  return onPostgres(orm.em.getPlatform()) ? advisoryLock(orm, holder, options) : leaseLock(orm, holder, options);
}

/** The lock as a consumer keeps it: taken at `listen()`, released at `stop()`; once lost, every step is refused. */
export class CenterLockKeeper {
  #lock: CenterLock | undefined;
  /** Set when the lock was lost while held. */
  lost: OplogError | undefined;

  constructor(
    private readonly orm: MikroORM,
    private readonly checkMs: number,
    private readonly onLost: (error: OplogError) => void,
  ) {}

  async take(): Promise<void> {
    const onLost = (error: OplogError) => {
      this.lost = error;
      this.onLost(error);
    };
    this.#lock ??= await acquireCenterLock(this.orm, { checkMs: this.checkMs, onLost });
  }

  async release(): Promise<void> {
    const lock = this.#lock;
    this.#lock = undefined;
    await lock?.release();
  }

  /** Fails closed: once the lock is lost, no work reaches the database. */
  whileLocked<T>(work: () => Promise<T>): Promise<T> {
    return this.lost ? Promise.reject(this.lost) : work();
  }
}
