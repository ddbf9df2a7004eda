import type { FaultRecord } from './injector.js';
import type { Check, Tally } from './invariants.js';

export interface Summary {
  seed: number;
  center: string;
  size: string;
  wallMs: number;
  records: FaultRecord[];
  skipped: string[];
  changes: { label: string; driver: string; seq: number }[];
  tally: Tally;
  /** From the later of the last fault lifted and the end of the load to every cursor at its head; undefined: never. */
  convergeMs: number | undefined;
  /** When the last fault was lifted, in ms before the end of the load (negative: after it). */
  lastFaultBeforeLoadEndMs: number;
  checks: Check[];
}

/** The name of a fault in the summary table. */
export function kindOf(record: FaultRecord): string {
  const f = record.fault;
  switch (f.kind) {
    case 'producer-kill':
      return 'producer SIGKILL';
    case 'consumer-kill':
      return 'consumer SIGKILL';
    case 'cut':
      return f.midFrame ? 'connection cut mid-frame' : 'connection cut';
    case 'stall':
      return f.target === 'proxy' ? 'stall: proxy stops forwarding' : `stall: ${f.target} SIGSTOP/SIGCONT`;
    case 'busy':
      return 'consumer database locked';
    case 'disk-full':
      return 'consumer disk full';
    case 'backup':
      return 'source backed up';
    case 'restore':
      return 'source restored from backup';
    case 'restore-before-first-sync':
      return 'restored from before first sync';
    case 'restore-after-trim':
      return 'restored from before a trim';
  }
}

export function formatSummary(s: Summary): string {
  const counts = new Map<string, { injected: number; effective: number }>();
  for (const record of s.records) {
    const row = counts.get(kindOf(record)) ?? { injected: 0, effective: 0 };
    row.injected++;
    if (record.effective) row.effective++;
    counts.set(kindOf(record), row);
  }
  const n = (v: number) => v.toLocaleString('en-US');
  const seconds = (ms: number | undefined) => (ms === undefined ? 'never' : `${(ms / 1000).toFixed(1)} s`);
  const total = s.changes.reduce((sum, c) => sum + c.seq, 0);
  const lines = [
    `fault run summary: ${s.center} center, seed ${s.seed}, ${s.size} size, wall time ${seconds(s.wallMs)}`,
    `  ${'fault'.padEnd(34)}${'injected'.padStart(9)}${'effective'.padStart(11)}`,
    ...[...counts].map(([kind, c]) => `  ${kind.padEnd(34)}${n(c.injected).padStart(9)}${n(c.effective).padStart(11)}`),
    ...s.records
      .filter((r) => r.fault.kind.startsWith('restore-'))
      .map((r) => `  ${kindOf(r)}: source ${'ABC'[(r.fault as { source: number }).source]}, ${r.note}`),
    ...s.records
      .filter((r) => r.fault.kind === 'disk-full')
      .map(
        (r) => `  disk full: ${r.effective ? `the consumer refused batches: ${r.note}` : 'no batch came during it'}`,
      ),
    ...s.skipped.map((why) => `  skipped: ${why}`),
    `  ${'changes'.padEnd(18)}${n(total)} (${s.changes.map((c) => `${c.label} ${c.driver} ${n(c.seq)}`).join(', ')})`,
    `  ${'lost'.padEnd(18)}${n(s.tally.lost)}`,
    `  ${'duplicated'.padEnd(18)}${n(s.tally.duplicated)}`,
    `  ${'rows different'.padEnd(18)}${n(s.tally.mismatched)}`,
    `  ${'time to converge'.padEnd(18)}${seconds(s.convergeMs)} after the last fault and the end of the load (the last fault was lifted ${seconds(Math.abs(s.lastFaultBeforeLoadEndMs))} ${s.lastFaultBeforeLoadEndMs >= 0 ? 'before' : 'after'} the load ended)`,
    '  invariants:',
    ...s.checks.map((c) => `    ${c.ok ? 'ok  ' : 'FAIL'} ${c.name}: ${c.detail}`),
  ];
  if (s.tally.details.length > 0) lines.push('  differences:', ...s.tally.details.slice(0, 20).map((d) => `    ${d}`));
  return lines.join('\n');
}

/** What one center's run came to, for the line per center at the end. */
export interface CenterFigures {
  center: string;
  ok: boolean;
  /** Changes the sources logged (the sum of their heads). */
  changes: number;
  faults: number;
  effective: number;
  lost: number;
  duplicated: number;
  mismatched: number;
  wallMs: number;
}

/** One line per center, and the verdict. */
export function formatCenters(seed: number, centers: CenterFigures[], wallMs: number): string {
  const n = (v: number) => v.toLocaleString('en-US');
  const head = ['center', 'result', 'changes', 'faults', 'effective', 'lost', 'duplicated', 'rows diff', 'time'];
  const widths = [12, 8, 9, 8, 11, 6, 12, 11, 9];
  const row = (cells: string[]) =>
    cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('');
  return [
    `fault runs: seed ${seed}, ${centers.every((c) => c.ok) ? 'passed' : 'FAILED'}, wall time ${(wallMs / 1000).toFixed(1)} s`,
    `  ${row(head)}`,
    ...centers.map(
      (c) =>
        `  ${row([
          c.center,
          c.ok ? 'ok' : 'FAIL',
          n(c.changes),
          n(c.faults),
          n(c.effective),
          n(c.lost),
          n(c.duplicated),
          n(c.mismatched),
          `${(c.wallMs / 1000).toFixed(1)} s`,
        ])}`,
    ),
  ].join('\n');
}
