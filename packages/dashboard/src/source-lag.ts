/**
 * What the consumer sends the page per source, over /api/events and /api/lag: one type for the server that computes
 * it and the page that draws it. No imports, so that the page's bundle takes it as it is.
 */

/**
 * How a source is doing, as the dashboard and /metrics show it. Each state has one rule in `classify` (lag.ts),
 * checked in the order of this list, so a new state is one more member and one more rule placed where it takes
 * precedence.
 */
export const LAG_STATES = ['halted', 'offline', 'fenced', 'snapshotting', 'catching-up', 'live'] as const;
export type LagState = (typeof LAG_STATES)[number];

/** A point of the source's log. */
export interface LogPosition {
  seq: number;
  epoch: number;
}

export interface SourceLag {
  id: string;
  state: LagState;
  lagChanges: number;
  lagMs: number;
  /** False while the head is unknown (see isHeadKnown): lagChanges and lagMs are then lower bounds ("≥ n"). */
  lagKnown: boolean;
  /** When the head the figures use was told (hello, heartbeat or head report). */
  headHeardAt: number | null;
  /** Entries applied per second over the last minute. */
  throughput: number;
  cursor: LogPosition;
  head: LogPosition;
  /** When any frame of the source last arrived. */
  lastSeenAt: number | null;
  /**
   * When the connection of an offline or halted source closed; null while connected. For a source not seen since
   * this consumer started, its last commit (the connection closed later).
   */
  offlineSince: number | null;
  lastError: { code: string; message: string; at: number } | null;
  /** While snapshotting: why, and how far (rows staged of the rows counted). */
  snapshot: { reason: string; rows: number; total: number; percent: number } | null;
  /** The last full resync (restore from backup, trimmed history, new source) and when. */
  lastResync: { reason: string; at: number } | null;
}

/** One message of /api/events. */
export interface LagMessage {
  now: number;
  sources: SourceLag[];
}

/** A point of a lag chart: one sampling time, the lag in changes and in milliseconds. */
export type HistoryPoint = [at: number, lagChanges: number, lagMs: number];
