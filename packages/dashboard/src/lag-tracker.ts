import type { Position } from '@oplog/protocol';
import { rememberPosition, type SourceStatus, type StoredSource } from '@oplog/replay';
import { type AppliedSample, isHeadKnown, lagOf, throughput } from './lag.js';
import type { SourceLag } from './source-lag.js';

/** How long a source shows as fenced after a second producer of it was refused. */
const FENCED_SHOWN_MS = 30_000;

interface Memory {
  known: Position[];
  applied: AppliedSample[];
  lastConnectedAt: number | undefined;
  caughtUpAt: number | undefined;
}

const THROUGHPUT_WINDOW_MS = 60_000;

/**
 * Remembers, between readings, what the lag model needs and a SourceStatus does not hold: the positions heard beyond
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

  observe(statuses: readonly SourceStatus[], now = Date.now()): SourceLag[] {
    const seen = new Set<string>();
    const result: SourceLag[] = [];
    for (const status of statuses) {
      seen.add(status.id);
      result.push(this.#observeOne(status, now));
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

  #observeOne(status: SourceStatus, now: number): SourceLag {
    let memory = this.#memory.get(status.id);
    if (!memory) {
      memory = { known: [], applied: [], lastConnectedAt: undefined, caughtUpAt: undefined };
      this.#memory.set(status.id, memory);
    }
    const headKnown = isHeadKnown(status.connected, status.headReportedAt, now);
    if (status.connected) memory.lastConnectedAt = now;
    // The head was told at headHeardAt (a later batch only moved it on): nothing beyond the cursor existed then.
    if (headKnown && status.head.seq <= status.cursor.seq && status.headHeardAt !== undefined) {
      memory.caughtUpAt = Math.max(memory.caughtUpAt ?? 0, status.headHeardAt);
    }
    memory.known = rememberPosition(memory.known, status.head, status.cursor.seq);
    const lastSample = memory.applied.at(-1);
    if (!lastSample || now - lastSample.at >= 1000 || status.appliedEntries < lastSample.applied) {
      // A counter that went down belongs to a new SourceReplay (a restart): start the window again.
      if (lastSample && status.appliedEntries < lastSample.applied) memory.applied = [];
      memory.applied.push({ at: now, applied: status.appliedEntries });
      while (memory.applied[0]!.at < now - THROUGHPUT_WINDOW_MS) memory.applied.shift();
    }
    const lag = lagOf(
      {
        connected: status.connected,
        headKnown,
        snapshotting: status.snapshot !== undefined,
        halted: status.halted !== undefined,
        fenced: status.fencedAt !== undefined && now - status.fencedAt < FENCED_SHOWN_MS,
        cursor: status.cursor,
        head: status.head,
        lastError: status.lastError,
        known: [...memory.known, ...status.received],
        lastConnectedAt: memory.lastConnectedAt,
        caughtUpAt: memory.caughtUpAt,
      },
      now,
    );
    return {
      id: status.id,
      state: lag.state,
      lagChanges: lag.changes,
      lagMs: lag.ms,
      lagKnown: lag.known,
      headHeardAt: status.headHeardAt ?? null,
      throughput: round(throughput(memory.applied, now, THROUGHPUT_WINDOW_MS)),
      cursor: status.cursor,
      head: status.head,
      lastSeenAt: status.lastSeenAt ?? null,
      offlineSince: status.connected ? null : (status.disconnectedAt ?? status.lastSeenAt ?? null),
      lastError: status.halted ?? status.lastError ?? null,
      snapshot: status.snapshot ?? null,
      lastResync: status.lastResync ?? null,
    };
  }
}

const round = (n: number) => Math.round(n * 100) / 100;
