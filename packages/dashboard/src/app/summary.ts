import type { SourceLag } from '../source-lag.js';
import { atLeast, count, duration } from './format.js';

export interface Summary {
  live: number;
  catchingUp: number;
  snapshotting: number;
  fenced: number;
  offline: number;
  halted: number;
  /** Sources whose head is unknown: their lag counts in the totals as a floor, and the totals say so. */
  unknown: number;
  text: string;
}

/**
 * The line at the top: how many sources are in each state, and the total lag. A source whose lag is unknown makes
 * the totals floors ("≥"): the line never reads as caught up when the consumer does not know.
 */
export function summarize(sources: readonly SourceLag[]): Summary {
  let live = 0;
  let catchingUp = 0;
  let snapshotting = 0;
  let offline = 0;
  let halted = 0;
  let fenced = 0;
  let unknown = 0;
  let changes = 0;
  let worst = 0;
  for (const lag of sources) {
    if (lag.state === 'live') live++;
    else if (lag.state === 'catching-up') catchingUp++;
    else if (lag.state === 'snapshotting') snapshotting++;
    else if (lag.state === 'offline') offline++;
    else if (lag.state === 'fenced') fenced++;
    else halted++;
    if (!lag.lagKnown) unknown++;
    changes += lag.lagChanges;
    worst = Math.max(worst, lag.lagMs);
  }
  const known = unknown === 0;
  const parts = [`${count(live)} live`];
  if (catchingUp > 0) parts.push(`${count(catchingUp)} catching up`);
  if (snapshotting > 0) parts.push(`${count(snapshotting)} snapshotting`);
  if (fenced > 0) parts.push(`${count(fenced)} fenced`);
  parts.push(`${count(offline)} offline`, `${count(halted)} halted`);
  const totals = `total lag ${atLeast(known, changes, `${count(changes)} changes`)}, worst ${atLeast(known, worst, duration(worst))}`;
  const text = `${parts.join(' · ')} — ${totals}${known ? '' : ` (${count(unknown)} unknown)`}`;
  return { live, catchingUp, snapshotting, fenced, offline, halted, unknown, text };
}
