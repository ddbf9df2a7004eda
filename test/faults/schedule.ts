import { seededRandom } from '@oplog/demo/seeded-random';

/** The size of a run: how much load, and how many faults of each kind, injected over how long. */
export interface RunSize {
  /** Transactions of the load on each source (about 1.7 changes each). */
  transactionsPerSource: number;
  producerKills: number;
  consumerKills: number;
  cuts: number;
  /** The share of the cuts made in the middle of a frame. */
  midFrameShare: number;
  stalls: number;
  busy: number;
  /** Where faults are injected: from warmupMs to windowMs after the start, while the load runs. */
  windowMs: number;
  warmupMs: number;
  /** The consumer's tmpfs, for the disk-full episode. */
  tmpfsMb: number;
}

export const CI_SIZE: RunSize = {
  transactionsPerSource: 4000,
  producerKills: 50,
  consumerKills: 30,
  cuts: 200,
  midFrameShare: 0.2,
  stalls: 20,
  busy: 8,
  windowMs: 240_000,
  warmupMs: 5000,
  tmpfsMb: 64,
};

/** --long: ten times the changes and the faults, over ten times as long. */
export const LONG_SIZE: RunSize = {
  ...CI_SIZE,
  transactionsPerSource: CI_SIZE.transactionsPerSource * 10,
  producerKills: CI_SIZE.producerKills * 10,
  consumerKills: CI_SIZE.consumerKills * 10,
  cuts: CI_SIZE.cuts * 10,
  stalls: CI_SIZE.stalls * 10,
  busy: CI_SIZE.busy * 10,
  windowMs: CI_SIZE.windowMs * 10,
  tmpfsMb: 256,
};

export type Fault =
  | { kind: 'producer-kill'; source: number; pauseMs: number }
  | { kind: 'consumer-kill' }
  | { kind: 'cut'; source: number; midFrame: boolean }
  | { kind: 'stall'; target: 'proxy' | 'producer'; source: number; ms: number }
  | { kind: 'stall'; target: 'consumer'; ms: number }
  | { kind: 'busy'; ms: number }
  | { kind: 'disk-full'; ms: number }
  | { kind: 'backup'; source: number }
  | { kind: 'restore'; source: number }
  | { kind: 'restore-before-first-sync'; source: number }
  | { kind: 'restore-after-trim'; source: number };

export type ScheduledFault = Fault & { at: number };

/** What a fault holds while it runs: faults on the same resource happen one after the other, in schedule order. */
export function resourceOf(fault: Fault): string {
  switch (fault.kind) {
    case 'producer-kill':
    case 'backup':
    case 'restore':
    case 'restore-before-first-sync':
    case 'restore-after-trim':
      return `producer ${fault.source}`;
    case 'cut':
      return `proxy ${fault.source}`;
    case 'stall':
      return fault.target === 'consumer' ? 'consumer' : `${fault.target} ${fault.source}`;
    default:
      return 'consumer';
  }
}

/**
 * Every fault of a run, at its time, drawn from the seed alone: the same seed gives the same schedule. The
 * disk-full episode lands in the middle third of the window; the backup in the first half and
 * the restore of that backup after it, both on the first source (SQLite). One of the two others (at least three
 * sources in all; the seed draws which) is restored across a snapshot twice: from before its first sync, first of all
 * on it (the run starts its producer only then), and from before a trim in the middle of the window. The third is
 * never restored: one load runs on it from start to end, so its counters can be checked against that load's own.
 */
export function schedule(seed: number, size: RunSize, sources: number): ScheduledFault[] {
  const random = seededRandom(seed);
  const between = (min: number, max: number) => Math.round(min + random() * (max - min));
  const at = () => between(size.warmupMs, size.windowMs);
  const source = () => Math.floor(random() * sources);
  const out: ScheduledFault[] = [];
  for (let i = 0; i < size.producerKills; i++) {
    out.push({ at: at(), kind: 'producer-kill', source: source(), pauseMs: between(0, 1500) });
  }
  for (let i = 0; i < size.consumerKills; i++) out.push({ at: at(), kind: 'consumer-kill' });
  const midFrame = Math.round(size.cuts * size.midFrameShare);
  for (let i = 0; i < size.cuts; i++) out.push({ at: at(), kind: 'cut', source: source(), midFrame: i < midFrame });
  for (let i = 0; i < size.stalls; i++) {
    const ms = between(5000, 7000);
    const roll = random();
    if (roll < 0.2) out.push({ at: at(), kind: 'stall', target: 'consumer', ms });
    else out.push({ at: at(), kind: 'stall', target: roll < 0.6 ? 'proxy' : 'producer', source: source(), ms });
  }
  for (let i = 0; i < size.busy; i++) out.push({ at: at(), kind: 'busy', ms: between(2000, 5000) });
  out.push({ at: between(size.windowMs / 3, (2 * size.windowMs) / 3), kind: 'disk-full', ms: between(3000, 6000) });
  out.push({ at: between(size.warmupMs, size.windowMs * 0.4), kind: 'backup', source: 0 });
  out.push({ at: between(size.windowMs * 0.5, size.windowMs * 0.8), kind: 'restore', source: 0 });
  const restored = random() < 0.5 ? 1 : 2;
  out.push({ at: between(size.windowMs * 0.3, size.windowMs * 0.6), kind: 'restore-after-trim', source: restored });
  // First in the list: a sort keeps it before any fault drawn at the same time on its source.
  out.unshift({ at: size.warmupMs, kind: 'restore-before-first-sync', source: restored });
  return out.sort((a, b) => a.at - b.at);
}

/** The source whose producer starts only with its restore-before-first-sync episode (its app writes before). */
export function firstSyncSource(plan: ScheduledFault[]): number | undefined {
  return plan.find((f) => f.kind === 'restore-before-first-sync')?.source;
}

/** A size shrunk or grown by `factor` (at least one fault of each kind), for a quick look or a longer soak. */
export function scaled(size: RunSize, factor: number): RunSize {
  const times = (n: number) => Math.max(1, Math.round(n * factor));
  return {
    ...size,
    transactionsPerSource: times(size.transactionsPerSource),
    producerKills: times(size.producerKills),
    consumerKills: times(size.consumerKills),
    cuts: times(size.cuts),
    stalls: times(size.stalls),
    busy: times(size.busy),
    windowMs: Math.max(size.warmupMs * 2, Math.round(size.windowMs * factor)),
  };
}
