/** What the consumer sends per source (its `SourceLag`), over /api/events and /api/lag. */
export interface SourceLag {
  id: string;
  state: 'live' | 'catching-up' | 'snapshotting' | 'fenced' | 'offline' | 'halted';
  lagChanges: number;
  lagMs: number;
  /** False while the consumer does not know the source's head: lagChanges and lagMs are then lower bounds. */
  lagKnown: boolean;
  /** When the head behind the figures was told (hello, heartbeat or head report). */
  headHeardAt: number | null;
  throughput: number;
  cursor: { seq: number; epoch: number };
  head: { seq: number; epoch: number };
  /** When any frame of the source last arrived. */
  lastSeenAt: number | null;
  /** When its connection closed, while it is offline or halted. */
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
