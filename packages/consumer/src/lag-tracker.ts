import type { Position } from '@oplog/protocol';
import type { SourceSnapshot } from './consumer.js';
import type { StoredSource } from './cursor-store.js';
import { type AppliedSample, lagOf, rememberPosition, type SourceStateName, throughput } from './lag.js';

/** One source as the dashboard, the SSE stream and /metrics show it. */
/** How long a source shows as fenced after a second producer of it was refused. */
const FENCED_SHOWN_MS = 30_000;

export interface SourceLag {
  id: string;
  state: SourceStateName;
  lagChanges: number;
  lagMs: number;
  /** Entries applied per second over the last minute. */
  throughput: number;
  cursor: Position;
  head: Position;
  lastSeenAt: number | null;
  /** When an offline or halted source was last heard; null while connected. */
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
  offlineSince: number | undefined;
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
      memory = { known: [], applied: [], lastConnectedAt: undefined, offlineSince: undefined, caughtUpAt: undefined };
      this.#memory.set(snapshot.id, memory);
    }
    if (snapshot.connected) {
      memory.lastConnectedAt = now;
      memory.offlineSince = undefined;
      // The head was heard at lastSeenAt (or later, from a batch): nothing beyond the cursor existed then.
      if (snapshot.head.seq <= snapshot.cursor.seq) {
        memory.caughtUpAt = Math.max(memory.caughtUpAt ?? 0, snapshot.lastSeenAt ?? now);
      }
    } else {
      // The last frame heard is when it went away: closer than the moment this tracker noticed.
      memory.offlineSince ??= snapshot.lastSeenAt ?? now;
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
        snapshotting: snapshot.snapshot !== undefined,
        halted: snapshot.halted !== undefined,
        fenced: snapshot.fencedAt !== undefined && now - snapshot.fencedAt < FENCED_SHOWN_MS,
        cursor: snapshot.cursor,
        head: snapshot.head,
        lastError: snapshot.lastError,
        known: memory.known,
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
      throughput: round(throughput(memory.applied, now, THROUGHPUT_WINDOW_MS)),
      cursor: snapshot.cursor,
      head: snapshot.head,
      lastSeenAt: snapshot.lastSeenAt ?? null,
      offlineSince: snapshot.connected ? null : (memory.offlineSince ?? null),
      lastError: snapshot.halted ?? snapshot.lastError ?? null,
      snapshot: snapshot.snapshot ?? null,
      lastResync: snapshot.lastResync ?? null,
    };
  }
}

const round = (n: number) => Math.round(n * 100) / 100;
