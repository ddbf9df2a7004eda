import type { OplogError } from '@oplog/protocol';

/** A held center lock (see acquireCenterLock). */
export interface CenterLock {
  release(): Promise<void>;
}

/** Who holds (or asks for) the lock, so that a refused consumer can say which one is in the way. */
export interface LockHolder {
  /** Unique per consumer instance, so two in one process tell each other apart. */
  id: string;
  pid: number;
  host: string;
  since: number;
}

export interface CenterLockOptions {
  /**
   * How often the lock is checked: on PostgreSQL its connection must answer, on SQLite the lease is renewed (it
   * lasts LEASE_CHECKS times as long).
   */
  checkMs: number;
  /** Called once if the lock is lost while held (connection gone, lease taken over): stop applying at once. */
  onLost: (error: OplogError) => void;
}

export function describeHolder(holder: Pick<LockHolder, 'pid' | 'host' | 'since'>): string {
  return `pid ${holder.pid} on ${holder.host}, since ${new Date(holder.since).toISOString()}`;
}

/** Reports a loss once, and never after the lock was released on purpose. */
export class LossReporter {
  #done = false;

  constructor(private readonly onLost: (error: OplogError) => void) {}

  lose(error: OplogError): void {
    if (this.#done) return;
    this.#done = true;
    this.onLost(error);
  }

  released(): void {
    this.#done = true;
  }
}
