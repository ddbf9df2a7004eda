import { HEAD_REPORT_TTL_MS, type Position } from '@oplog/protocol';
import type { LagState } from './source-lag.js';

/** A connected source whose oldest unapplied change is younger than this is live; older, it is catching up. */
export const LIVE_LAG_MS = 5000;

/**
 * Whether the consumer knows a source's head now, and so its lag: while a session of it is open (the producer's
 * hello, heartbeats and batches keep the head current), or while the local app's last head report (POST /api/head)
 * is younger than HEAD_REPORT_TTL_MS. Otherwise the last head heard is only a lower bound: the source may have
 * written since, and its lag is shown as "≥ n", never as a plain figure and never as caught up.
 */
export function isHeadKnown(connected: boolean, headReportedAt: number | undefined, now: number): boolean {
  return connected || (headReportedAt !== undefined && now - headReportedAt < HEAD_REPORT_TTL_MS);
}

/** What the lag model reads about one source (a `SourceStatus` plus what the tracker remembered). */
export interface LagInput {
  connected: boolean;
  /** See `isHeadKnown`: when false, `head` is a lower bound and so is every lag figure. */
  headKnown: boolean;
  /** A snapshot of the source is in progress: its rows are not complete here yet. */
  snapshotting?: boolean;
  /** A poison change holds the source back, connected or not. */
  halted?: boolean;
  /** A second producer of the source was refused lately: two producers claim one identity. */
  fenced?: boolean;
  cursor: Position;
  head: Position;
  lastError: { code: string; message: string; at: number } | undefined;
  /**
   * Positions of the source's log seen beyond the cursor (heads, batch ends, and the first entry of every batch
   * received): where the unapplied part starts.
   */
  known: readonly Position[];
  /** When the source was last seen connected; an error older than that did not end the current absence. */
  lastConnectedAt?: number;
  /** When the source last told a head no further than the cursor: every later change was written after it. */
  caughtUpAt?: number;
}

export interface Lag {
  state: LagState;
  /** The producer's head seq minus the durable cursor's seq (as last heard: a dead producer reports nothing). */
  changes: number;
  /** Now minus the commit time of the oldest change not yet applied, estimated by `lagMs`; 0 when caught up. */
  ms: number;
  /** False when the head is not known (see `isHeadKnown`): `changes` and `ms` are then lower bounds. */
  known: boolean;
}

/** head − cursor, never negative (a head heard before a newer commit can trail the cursor for a moment). */
export function lagChanges(cursor: Position, head: Position): number {
  return Math.max(0, head.seq - cursor.seq);
}

/**
 * Now minus the commit time (`epoch`) of the oldest change not yet applied: the entry at cursor + 1. Exact when
 * that entry's position is known, which is the rule during a catch-up: every batch received records its first
 * entry, so once the batch after the cursor has arrived (queued, being applied, or a part of an open transaction)
 * its epoch is read as is. Before it arrives, the age is bounded from both sides, using that epochs grow with seq:
 * - from below by the earliest position heard beyond the cursor (hello, heartbeat, batch): that entry is at or
 *   after cursor + 1, so it is no older. While connected and idle, a new change is heard within a heartbeat.
 * - from above by the cursor's own epoch (cursor + 1 is no older than the cursor), and by `caughtUpAt`, when the
 *   source last told a head no further than the cursor (everything beyond was written after it).
 *
 * With the head known (`isHeadKnown`) the upper bound is reported: the safe answer to "am I caught up?", too high
 * by at most the pause between the cursor's change and the next one. Without it, the lower bound (often 0): the
 * source may have written nothing since it left, or much; `Lag.known` says the figure is a floor.
 */
export function lagMs(input: Omit<LagInput, 'lastError'>, now: number): number {
  const { cursor, head } = input;
  if (head.seq <= cursor.seq) return 0;
  let earliest = head;
  for (const position of input.known) if (position.seq > cursor.seq && position.seq < earliest.seq) earliest = position;
  // Clocks of the two hosts differ; a negative age would only mean the source's clock runs ahead.
  const low = Math.max(0, now - earliest.epoch);
  const floor = Math.max(cursor.epoch, input.caughtUpAt ?? 0);
  if (!input.headKnown || floor === 0 || earliest.seq === cursor.seq + 1) return low;
  return Math.max(low, now - floor);
}

/** Halted: disconnected by an error (until it reconnects); offline: gone without one. */
export function classify(
  input: Pick<LagInput, 'connected' | 'snapshotting' | 'halted' | 'fenced' | 'lastError' | 'lastConnectedAt'>,
  ms: number,
): LagState {
  if (input.halted) return 'halted';
  if (!input.connected) {
    const { lastError, lastConnectedAt } = input;
    return lastError && (lastConnectedAt === undefined || lastError.at >= lastConnectedAt) ? 'halted' : 'offline';
  }
  if (input.fenced) return 'fenced';
  if (input.snapshotting) return 'snapshotting';
  return ms >= LIVE_LAG_MS ? 'catching-up' : 'live';
}

export function lagOf(input: LagInput, now: number): Lag {
  const ms = lagMs(input, now);
  return { state: classify(input, ms), changes: lagChanges(input.cursor, input.head), ms, known: input.headKnown };
}

/** One reading of a source's applied-entries counter. */
export interface AppliedSample {
  at: number;
  applied: number;
}

/** Entries applied per second over the samples within `windowMs` of `now` (0 with fewer than two). */
export function throughput(samples: readonly AppliedSample[], now: number, windowMs = 60_000): number {
  const recent = samples.filter((s) => s.at >= now - windowMs);
  const first = recent[0];
  const last = recent.at(-1);
  if (!first || !last || last.at <= first.at) return 0;
  return Math.max(0, last.applied - first.applied) / ((last.at - first.at) / 1000);
}
