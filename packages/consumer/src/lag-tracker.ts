import type { Position } from '@oplog/protocol';
import type { StoredSource } from './cursor-store.js';
import { type AppliedSample, isHeadKnown, lagOf, rememberPosition, type SourceStateName, throughput } from './lag.js';
import type { SourceSnapshot } from './source-snapshot.js';

/** How long a source shows as fenced after a second producer of it was refused. */
const FENCED_SHOWN_MS = 30_000;

/** One source as the dashboard, the SSE stream and /metrics show it. */
export interface SourceLag {
  id: string;
  state: SourceStateName;
  lagChanges: number;
  lagMs: number;
  /** False while the head is unknown (see isHeadKnown): lagChanges and lagMs are then lower bounds ("≥ n"). */
  lagKnown: boolean;
  /** When the head the figures use was told (hello, heartbeat or head report). */
  headHeardAt: number | null;
  /** Entries applied per second over the last minute. */
  throughput: number;
  cursor: Position;
  head: Position;
  /** When any frame of the source last arrived. */
  lastSeenAt: number | null;
  /**
   * When the connection of an offline or halted source closed; null while connected. For a source not seen since
   * this consumer started, its last commit (the connection closed later).
   */
  offlineSince: number | null;
  lastError: { code: string; message: string; at: number } | null;
  /** While snapshotting: why, and how far. */
  snapshot: SourceSnapshot['snapshot'] | null;
  /** The last full resync (restore from backup, trimmed history, new source) and when. */
  lastResync: SourceSnapshot['lastResync'] | null;
}

interface Memory {
  known: Position[];
  applied: AppliedSample[];
  lastConnectedAt: number | undefined;
  caughtUpAt: number | undefined;
}

const THROUGHPUT_WINDOW_MS = 60_000;

/**
 * Remembers, between snapshots, what the lag model needs and a snapshot does not hold: the positions heard beyond
 * the cursor, the applied-entries counter over the last minute, and when each source went away. Observing often
 * (a few times a second) keeps the lag-in-seconds estimate close; see `lagMs`.
 */
export class LagTracker {
  readonly #memory = new Map<string, Memory>();
  readonly #stored: ReadonlyMap<string, StoredSource>;

  /** `stored`: the durable cursors at start, so sources that have not reconnected since a restart still show. */
  constructor(stored: ReadonlyMap<string, StoredSource> = new Map()) {
    this.#stored = stored;
  }

  observe(snapshots: readonly SourceSnapshot[], now = Date.now()): SourceLag[] {
    const seen = new Set<string>();
    const result: SourceLag[] = [];
    for (const snapshot of snapshots) {
      seen.add(snapshot.id);
      result.push(this.#observeOne(snapshot, now));
    }
    for (const [id, stored] of this.#stored) {
      if (seen.has(id)) continue;
      result.push(
        this.#observeOne(
          {
            id,
            connected: false,
            incarnation: stored.cursor.incarnation,
            cursor: { seq: stored.cursor.seq, epoch: stored.cursor.epoch },
            head: stored.head,
            lastSeenAt: stored.updatedAt,
            headHeardAt: undefined,
            headReportedAt: undefined,
            disconnectedAt: undefined,
            received: [],
            lastError: undefined,
            halted: undefined,
            fencedAt: undefined,
            appliedEntries: 0,
            quarantinedEntries: 0,
            snapshot: undefined,
            lastResync: undefined,
            schemaDifferences: [],
          },
          now,
        ),
      );
    }
    return result;
  }

  #observeOne(snapshot: SourceSnapshot, now: number): SourceLag {
    let memory = this.#memory.get(snapshot.id);
    if (!memory) {
      memory = { known: [], applied: [], lastConnectedAt: undefined, caughtUpAt: undefined };
      this.#memory.set(snapshot.id, memory);
    }
    const headKnown = isHeadKnown(snapshot.connected, snapshot.headReportedAt, now);
    if (snapshot.connected) memory.lastConnectedAt = now;
    // The head was told at headHeardAt (a later batch only moved it on): nothing beyond the cursor existed then.
    if (headKnown && snapshot.head.seq <= snapshot.cursor.seq && snapshot.headHeardAt !== undefined) {
      memory.caughtUpAt = Math.max(memory.caughtUpAt ?? 0, snapshot.headHeardAt);
    }
    memory.known = rememberPosition(memory.known, snapshot.head, snapshot.cursor.seq);
    const lastSample = memory.applied.at(-1);
    if (!lastSample || now - lastSample.at >= 1000 || snapshot.appliedEntries < lastSample.applied) {
      // A counter that went down belongs to a new SourceState (a restart): start the window again.
      if (lastSample && snapshot.appliedEntries < lastSample.applied) memory.applied = [];
      memory.applied.push({ at: now, applied: snapshot.appliedEntries });
      while (memory.applied[0]!.at < now - THROUGHPUT_WINDOW_MS) memory.applied.shift();
    }
    const lag = lagOf(
      {
        connected: snapshot.connected,
        headKnown,
        snapshotting: snapshot.snapshot !== undefined,
        halted: snapshot.halted !== undefined,
        fenced: snapshot.fencedAt !== undefined && now - snapshot.fencedAt < FENCED_SHOWN_MS,
        cursor: snapshot.cursor,
        head: snapshot.head,
        lastError: snapshot.lastError,
        known: [...memory.known, ...snapshot.received],
        lastConnectedAt: memory.lastConnectedAt,
        caughtUpAt: memory.caughtUpAt,
      },
      now,
    );
    return {
      id: snapshot.id,
      state: lag.state,
      lagChanges: lag.changes,
      lagMs: lag.ms,
      lagKnown: lag.known,
      headHeardAt: snapshot.headHeardAt ?? null,
      throughput: round(throughput(memory.applied, now, THROUGHPUT_WINDOW_MS)),
      cursor: snapshot.cursor,
      head: snapshot.head,
      lastSeenAt: snapshot.lastSeenAt ?? null,
      offlineSince: snapshot.connected ? null : (snapshot.disconnectedAt ?? snapshot.lastSeenAt ?? null),
      lastError: snapshot.halted ?? snapshot.lastError ?? null,
      snapshot: snapshot.snapshot ?? null,
      lastResync: snapshot.lastResync ?? null,
    };
  }
}

const round = (n: number) => Math.round(n * 100) / 100;
