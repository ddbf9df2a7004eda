/** The markdown tables of a bench run: figures side by side with ratios to the peer, resources, ceilings, targets. */
import type { BenchResult, PhaseId, PhaseSummary, SideId, SideSummary } from './result.js';
import { SIDES } from './result.js';

export const TARGETS = {
  /** Catch-up into PostgreSQL, as a multiple of the peer's rate. */
  backlogPgVsPeer: 1.2,
  backlogSqlitePerSecond: 40_000,
  latencyP50Ms: 3,
  latencyP99Ms: 10,
  peakRssMb: 150,
  hugeTxPeakRssMb: 200,
};

export function phaseLabel(id: PhaseId, settings: BenchResult['settings']): string {
  const n = (key: string) => Number(settings[key]).toLocaleString('en');
  switch (id) {
    case 'one-tx':
      return `${n('rows')} rows in one transaction`;
    case 'batched':
      return `${n('rows')} rows in ${n('batch')}-row transactions`;
    case 'single':
      return `${n('rows')} single-row transactions`;
    case 'latency':
      return `latency, ${n('commits')} commits at ${n('ratePerSecond')}/s`;
    case 'backlog':
      return `catch-up of a ${n('backlog')} backlog (single-row txs)`;
    case 'memory':
      return `catch-up of a ${n('memoryEntries')} backlog (memory)`;
    case 'huge-tx':
      return `one transaction of ${n('hugeTxRows')} updates (huge-tx)`;
  }
}

const fmt = (x: number | undefined) => (x === undefined ? '–' : x.toLocaleString('en'));
const ratio = (x: number | undefined, y: number | undefined) =>
  x === undefined || y === undefined || y === 0 ? '–' : `${(x / y).toFixed(2)}×`;

function figure(phase: PhaseSummary, s: SideSummary | undefined): string {
  if (!s) return '–';
  if (phase.kind === 'latency') return `p50 ${s.p50Ms} / p95 ${s.p95Ms} / p99 ${s.p99Ms} ms`;
  return `${fmt(s.changesPerSecond)}/s (${s.seconds} s)`;
}

function vsPeer(phase: PhaseSummary, side: SideId): string {
  const ours = phase.sides[side];
  const peer = phase.sides.peer;
  if (!ours || !peer) return '–';
  if (phase.kind === 'latency') return `p50 ${ratio(ours.p50Ms, peer.p50Ms)}, p99 ${ratio(ours.p99Ms, peer.p99Ms)}`;
  return ratio(ours.changesPerSecond, peer.changesPerSecond);
}

function table(header: string[], rows: string[][]): string {
  return [header, header.map(() => '---'), ...rows].map((r) => `| ${r.join(' | ')} |`).join('\n');
}

const listed = (record: Record<string, number>) =>
  Object.entries(record)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');

interface TargetCheck {
  target: string;
  result: string;
  met: boolean;
}

export function checkTargets(result: BenchResult): TargetCheck[] {
  const phase = (id: PhaseId) => result.phases.find((p) => p.id === id);
  const checks: TargetCheck[] = [];
  const backlog = phase('backlog');
  const pg = backlog?.sides.pg;
  const peer = backlog?.sides.peer;
  if (pg?.changesPerSecond && peer?.changesPerSecond) {
    const r = pg.changesPerSecond / peer.changesPerSecond;
    checks.push({
      target: `catch-up into PostgreSQL ≥ ${TARGETS.backlogPgVsPeer}× the peer`,
      result: `${r.toFixed(2)}× (${fmt(pg.changesPerSecond)} vs ${fmt(peer.changesPerSecond)}/s)`,
      met: r >= TARGETS.backlogPgVsPeer,
    });
  }
  const sqlite = backlog?.sides.sqlite;
  if (sqlite?.changesPerSecond) {
    checks.push({
      target: `catch-up into SQLite ≥ ${fmt(TARGETS.backlogSqlitePerSecond)} changes/s`,
      result: `${fmt(sqlite.changesPerSecond)}/s`,
      met: sqlite.changesPerSecond >= TARGETS.backlogSqlitePerSecond,
    });
  }
  for (const side of ['pg', 'sqlite'] as const) {
    const s = phase('latency')?.sides[side];
    if (!s) continue;
    checks.push({
      target: `latency (${side}) p50 ≤ ${TARGETS.latencyP50Ms} ms, p99 ≤ ${TARGETS.latencyP99Ms} ms`,
      result: `p50 ${s.p50Ms} ms, p99 ${s.p99Ms} ms`,
      met: s.p50Ms! <= TARGETS.latencyP50Ms && s.p99Ms! <= TARGETS.latencyP99Ms,
    });
  }
  for (const [id, limit] of [
    ['memory', TARGETS.peakRssMb],
    ['huge-tx', TARGETS.hugeTxPeakRssMb],
  ] as const) {
    for (const side of ['pg', 'sqlite'] as const) {
      const s = phase(id)?.sides[side];
      if (!s) continue;
      const peak = Math.max(s.peakRssMb.producer ?? 0, s.peakRssMb.consumer ?? 0);
      checks.push({
        target: `${id} (${side}) ≤ ${limit} MB RSS each side`,
        result: listed(s.peakRssMb),
        met: peak <= limit,
      });
    }
  }
  return checks;
}

export function renderMarkdown(result: BenchResult): string {
  const present = SIDES.filter((side) => result.phases.some((p) => p.sides[side.id]));
  const main = table(
    ['phase', ...present.flatMap((s) => (s.id === 'peer' ? [s.label] : [s.label, `${s.id} ÷ peer`]))],
    result.phases.map((phase) => [
      phaseLabel(phase.id, result.settings),
      ...present.flatMap((s) =>
        s.id === 'peer' ? [figure(phase, phase.sides.peer)] : [figure(phase, phase.sides[s.id]), vsPeer(phase, s.id)],
      ),
    ]),
  );
  const resources = table(
    ['phase', 'side', 'CPU s (sum)', 'CPU s by part', 'peak RSS MB'],
    result.phases.flatMap((phase) =>
      present
        .filter((s) => phase.sides[s.id])
        .map((s) => {
          const x = phase.sides[s.id]!;
          return [
            phaseLabel(phase.id, result.settings),
            s.id,
            String(x.totalCpuSeconds),
            listed(x.cpuSeconds),
            listed(x.peakRssMb),
          ];
        }),
    ),
  );
  const ceilings = table(
    ['ceiling', 'value'],
    result.ceilings.map((c) => [c.label, `${fmt(c.value)} ${c.unit}`]),
  );
  const targets = table(
    ['target', 'result', 'met'],
    checkTargets(result).map((t) => [t.target, t.result, t.met ? 'yes' : '**no**']),
  );
  const m = result.machine;
  return [
    `Medians of ${result.settings.rounds} round(s); ratios are ours ÷ the peer's, measured in the same run (higher is better for rates, lower for latencies).`,
    '',
    main,
    '',
    'CPU seconds (medians over rounds) and the largest RSS sampled, per side and part:',
    '',
    resources,
    '',
    'Ceilings, same run:',
    '',
    ceilings,
    '',
    'Targets:',
    '',
    targets,
    '',
    `${m.cpus} × ${m.cpuModel}, ${m.memoryGb} GB, Linux ${m.kernel}, Node ${m.node}, PostgreSQL ${m.postgres}; ${result.totalSeconds} s in all.`,
  ].join('\n');
}
