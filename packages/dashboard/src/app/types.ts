/** What the consumer sends per source (its `SourceLag`), over /api/events and /api/lag. */
export interface SourceLag {
  id: string;
  state: 'live' | 'catching-up' | 'snapshotting' | 'fenced' | 'offline' | 'halted';
  lagChanges: number;
  lagMs: number;
  throughput: number;
  cursor: { seq: number; epoch: number };
  head: { seq: number; epoch: number };
  lastSeenAt: number | null;
  offlineSince: number | null;
  lastError: { code: string; message: string; at: number } | null;
  /** While snapshotting: why, and how far (rows staged of the rows counted). */
  snapshot: { reason: string; rows: number; total: number; percent: number } | null;
  /** The last time the source was resnapshotted from scratch, and why. */
  lastResync: { reason: string; at: number } | null;
}

export interface LagMessage {
  now: number;
  sources: SourceLag[];
}

/** [at (ms), lag in changes, lag in ms] */
export type HistoryPoint = [number, number, number];
