import { HEAD_REPORT_TTL_MS } from '@oplog/protocol';
import { describe, expect, it } from 'vitest';
import { classify, isHeadKnown, type LagInput, LIVE_LAG_MS, lagChanges, lagMs, lagOf, throughput } from './lag.js';

const NOW = 1_000_000;
const input = (over: Partial<LagInput>): LagInput => ({
  connected: true,
  headKnown: over.connected ?? true,
  cursor: { seq: 10, epoch: NOW - 60_000 },
  head: { seq: 10, epoch: NOW - 60_000 },
  lastError: undefined,
  known: [],
  ...over,
});

describe('lagChanges', () => {
  it('is head minus cursor, and never negative', () => {
    expect(lagChanges({ seq: 3, epoch: 0 }, { seq: 10, epoch: 0 })).toBe(7);
    expect(lagChanges({ seq: 12, epoch: 0 }, { seq: 10, epoch: 0 })).toBe(0);
  });
});

describe('lagMs', () => {
  it('is 0 for a caught-up source however long it has been idle', () => {
    expect(lagMs(input({}), NOW)).toBe(0);
  });

  it('is exact when the position right after the cursor is known', () => {
    const known = [{ seq: 11, epoch: NOW - 2000 }];
    expect(lagMs(input({ head: { seq: 11, epoch: NOW - 2000 }, known, caughtUpAt: NOW - 2500 }), NOW)).toBe(2000);
  });

  it('does not report the idle time before a new change as lag (bounded by when the source was last caught up)', () => {
    // Idle for a minute, then one change 300 ms ago, heard by a heartbeat.
    const lag = lagMs(input({ head: { seq: 11, epoch: NOW - 300 }, caughtUpAt: NOW - 900 }), NOW);
    expect(lag).toBeGreaterThanOrEqual(300);
    expect(lag).toBeLessThanOrEqual(900);
  });

  it("follows the cursor's epoch through a catch-up after an outage", () => {
    // Back after 10 minutes: the hello head is fresh, but the cursor's change is 10 minutes old.
    const back = input({ cursor: { seq: 10, epoch: NOW - 600_000 }, head: { seq: 5000, epoch: NOW - 100 } });
    expect(lagMs({ ...back, caughtUpAt: NOW - 600_000 }, NOW)).toBe(600_000);
    const halfway = { ...back, cursor: { seq: 2500, epoch: NOW - 300_000 }, caughtUpAt: NOW - 600_000 };
    expect(lagMs(halfway, NOW)).toBe(300_000);
  });

  it('reports only what is known to be unapplied while the source is away', () => {
    const away = input({
      connected: false,
      head: { seq: 15, epoch: NOW - 5000 },
      known: [{ seq: 12, epoch: NOW - 8000 }],
    });
    expect(lagMs(away, NOW)).toBe(8000);
  });

  it('is the age of the first received, unapplied entry during a catch-up, not the bound from the cursor', () => {
    // The cursor's change is 10 minutes old; the batch after it arrived and waits: its first change is 5 minutes old.
    const behind = input({
      cursor: { seq: 10, epoch: NOW - 600_000 },
      head: { seq: 5000, epoch: NOW - 100 },
      known: [{ seq: 11, epoch: NOW - 300_000 }],
      caughtUpAt: NOW - 700_000,
    });
    expect(lagMs(behind, NOW)).toBe(300_000);
    // Before that batch arrives, the cursor's epoch bounds it from above: never less than the truth.
    expect(lagMs({ ...behind, known: [] }, NOW)).toBe(600_000);
  });

  it('reports the upper bound for an offline source whose head a fresh report vouches for', () => {
    const reported = input({
      connected: false,
      headKnown: true,
      cursor: { seq: 10, epoch: NOW - 600_000 },
      head: { seq: 20, epoch: NOW - 1000 },
    });
    expect(lagMs(reported, NOW)).toBe(600_000);
    expect(lagMs({ ...reported, headKnown: false }, NOW)).toBe(1000);
  });

  it("never goes negative when the source's clock runs ahead", () => {
    expect(lagMs(input({ connected: false, head: { seq: 11, epoch: NOW + 5000 } }), NOW)).toBe(0);
  });
});

describe('isHeadKnown', () => {
  it('knows the head while connected, or while a head report is younger than HEAD_REPORT_TTL_MS', () => {
    expect(isHeadKnown(true, undefined, NOW)).toBe(true);
    expect(isHeadKnown(false, undefined, NOW)).toBe(false);
    expect(isHeadKnown(false, NOW - HEAD_REPORT_TTL_MS + 1, NOW)).toBe(true);
    expect(isHeadKnown(false, NOW - HEAD_REPORT_TTL_MS, NOW)).toBe(false);
  });
});

describe('lagOf', () => {
  it('never reads an offline source with an unknown head as caught up', () => {
    // It left caught up: the last head heard is the cursor, so the floor is 0, and only a floor.
    const away = input({ connected: false, headKnown: false });
    expect(lagOf(away, NOW)).toEqual({ state: 'offline', changes: 0, ms: 0, known: false });
    const behind = input({ connected: false, headKnown: false, head: { seq: 14, epoch: NOW - 2000 } });
    expect(lagOf(behind, NOW)).toMatchObject({ state: 'offline', changes: 4, known: false });
    expect(lagOf(input({}), NOW).known).toBe(true);
  });
});

describe('classify', () => {
  it('is live when connected and close, catching up when behind by LIVE_LAG_MS or more', () => {
    expect(classify({ connected: true, lastError: undefined }, LIVE_LAG_MS - 1)).toBe('live');
    expect(classify({ connected: true, lastError: undefined }, LIVE_LAG_MS)).toBe('catching-up');
  });

  it('is halted when an error ended the session, offline when it just left', () => {
    const error = { code: 'OPLOG_UNKNOWN_ENTITY', message: 'x', at: NOW };
    expect(classify({ connected: false, lastError: error, lastConnectedAt: NOW - 100 }, 0)).toBe('halted');
    expect(classify({ connected: false, lastError: undefined }, 0)).toBe('offline');
    // An error from an earlier session that it recovered from does not make a later absence a halt.
    expect(classify({ connected: false, lastError: error, lastConnectedAt: NOW + 5000 }, 0)).toBe('offline');
  });

  it('puts a poison halt first, then fencing, then a snapshot in progress, whatever the lag', () => {
    const connected = { connected: true, lastError: undefined };
    expect(classify({ ...connected, halted: true, fenced: true, snapshotting: true }, 0)).toBe('halted');
    expect(classify({ connected: false, lastError: undefined, halted: true }, 0)).toBe('halted');
    expect(classify({ ...connected, fenced: true, snapshotting: true }, 0)).toBe('fenced');
    expect(classify({ ...connected, snapshotting: true }, LIVE_LAG_MS * 10)).toBe('snapshotting');
  });

  it('lets an idle source be live with lag 0', () => {
    expect(lagOf(input({}), NOW)).toEqual({ state: 'live', changes: 0, ms: 0, known: true });
  });
});

describe('throughput', () => {
  it('is entries per second over the window, 0 without two samples', () => {
    expect(throughput([{ at: NOW, applied: 10 }], NOW)).toBe(0);
    const samples = [
      { at: NOW - 120_000, applied: 0 },
      { at: NOW - 50_000, applied: 100 },
      { at: NOW, applied: 600 },
    ];
    expect(throughput(samples, NOW)).toBe(10);
  });
});
