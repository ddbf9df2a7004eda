import type { Position } from '@oplog/protocol';

/** What the consumer heard from one source and when (see Presence). */
export interface PresenceView {
  /** When the source was last heard: any frame or pong of its session, not only heartbeats. */
  lastSeenAt: number | undefined;
  /**
   * When its head was last told as it stood then: a hello, a heartbeat or a head report. A batch's last entry is no
   * such moment (the producer may hold more), so the lag model cannot read "caught up at" from it.
   */
  headHeardAt: number | undefined;
  /** When the local app last reported the head (POST /api/head). */
  headReportedAt: number | undefined;
  /** When its last session closed; undefined while one is open, and before any closed since this consumer started. */
  disconnectedAt: number | undefined;
  /** First entries of the batches received beyond the cursor: the one at cursor + 1 dates the oldest unapplied change. */
  received: readonly Position[];
}

/**
 * What the consumer heard from one source and when, kept across its sessions (in memory only): the lag model reads
 * it to tell what it knows from what it can only bound. Sessions and head reports write it.
 */
export class Presence implements PresenceView {
  lastSeenAt: number | undefined;
  headHeardAt: number | undefined;
  headReportedAt: number | undefined;
  disconnectedAt: number | undefined;
  /** Replaced, never changed in place, so a SourceStatus can share it. */
  received: readonly Position[] = [];

  view(): PresenceView {
    const { lastSeenAt, headHeardAt, headReportedAt, disconnectedAt, received } = this;
    return { lastSeenAt, headHeardAt, headReportedAt, disconnectedAt, received };
  }
}

/**
 * Adds a position heard from the source to `known` (sorted by seq, only beyond the cursor) and keeps at most `max`
 * of them: the earliest always stays, since it is the one the estimate reads; the others are thinned from the middle.
 */
export function rememberPosition(
  known: readonly Position[],
  position: Position,
  cursorSeq: number,
  max = 16,
): Position[] {
  const kept = known.filter((p) => p.seq > cursorSeq && p.seq !== position.seq);
  if (position.seq > cursorSeq) kept.push(position);
  kept.sort((a, b) => a.seq - b.seq);
  while (kept.length > max) kept.splice(Math.floor(kept.length / 2), 1);
  return kept;
}
