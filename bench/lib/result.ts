/** The shape of a bench run's result (the JSON that --json prints and bench/chart.ts reads), and its medians. */
import type { Ceiling } from './ceilings.js';
import type { LatencyRun } from './latency.js';
import type { Usage } from './meter.js';
import { median, round2 } from './stats.js';
import type { ThroughputRun } from './timed.js';

export const SIDES = [
  { id: 'peer', label: 'PostgreSQL 15 logical replication (peer)' },
  { id: 'pg', label: 'ours, PostgreSQL → PostgreSQL' },
  { id: 'sqlite', label: 'ours, SQLite → SQLite' },
] as const;
export type SideId = (typeof SIDES)[number]['id'];

export const PHASES = [
  { id: 'one-tx', kind: 'throughput' },
  { id: 'batched', kind: 'throughput' },
  { id: 'single', kind: 'throughput' },
  { id: 'latency', kind: 'latency' },
  { id: 'backlog', kind: 'throughput' },
  { id: 'memory', kind: 'throughput' },
  { id: 'huge-tx', kind: 'throughput' },
] as const;
export type PhaseId = (typeof PHASES)[number]['id'];

export type LatencyMeasure = LatencyRun & { waitedSeconds: number; usage: Usage };
export type Run = ThroughputRun | LatencyMeasure;
export type PhaseRuns = Partial<Record<PhaseId, Partial<Record<SideId, Run[]>>>>;

export interface SideSummary {
  runs: Run[];
  /** Throughput phases: the medians. */
  changesPerSecond?: number;
  seconds?: number;
  drainSeconds?: number;
  /** Latency: the medians of each round's percentiles. */
  p50Ms?: number;
  p95Ms?: number;
  p99Ms?: number;
  maxMs?: number;
  /** Median CPU seconds per part, and their sum. */
  cpuSeconds: Record<string, number>;
  totalCpuSeconds: number;
  /** The largest RSS seen per part over all rounds. */
  peakRssMb: Record<string, number>;
}

export interface PhaseSummary {
  id: PhaseId;
  kind: 'throughput' | 'latency';
  sides: Partial<Record<SideId, SideSummary>>;
}

export interface BenchResult {
  machine: { cpus: number; cpuModel: string; memoryGb: number; kernel: string; node: string; postgres: string };
  settings: Record<string, unknown>;
  phases: PhaseSummary[];
  ceilings: Ceiling[];
  totalSeconds: number;
}

function medianOf(runs: readonly Run[], pick: (run: Run) => number | undefined): number | undefined {
  const values = runs.map(pick).filter((v): v is number => v !== undefined);
  return values.length > 0 ? round2(median(values)) : undefined;
}

function summarizeSide(runs: Run[]): SideSummary {
  const parts = [...new Set(runs.flatMap((r) => Object.keys(r.usage.cpuSeconds)))];
  const cpuSeconds = Object.fromEntries(parts.map((p) => [p, medianOf(runs, (r) => r.usage.cpuSeconds[p]) ?? 0]));
  const rssParts = [...new Set(runs.flatMap((r) => Object.keys(r.usage.peakRssMb)))];
  const field = (key: string) => medianOf(runs, (r) => (r as unknown as Record<string, number | undefined>)[key]);
  return {
    runs,
    changesPerSecond: field('changesPerSecond'),
    seconds: field('seconds'),
    drainSeconds: field('drainSeconds'),
    p50Ms: field('p50Ms'),
    p95Ms: field('p95Ms'),
    p99Ms: field('p99Ms'),
    maxMs: runs.some((r) => 'maxMs' in r) ? Math.max(...runs.map((r) => (r as LatencyMeasure).maxMs)) : undefined,
    cpuSeconds,
    totalCpuSeconds: round2(medianOf(runs, (r) => Object.values(r.usage.cpuSeconds).reduce((a, b) => a + b, 0)) ?? 0),
    peakRssMb: Object.fromEntries(rssParts.map((p) => [p, Math.max(...runs.map((r) => r.usage.peakRssMb[p] ?? 0))])),
  };
}

export function summarize(runs: PhaseRuns): PhaseSummary[] {
  return PHASES.filter((phase) => runs[phase.id]).map((phase) => ({
    id: phase.id,
    kind: phase.kind,
    sides: Object.fromEntries(
      Object.entries(runs[phase.id]!).map(([side, sideRuns]) => [side, summarizeSide(sideRuns!)]),
    ),
  }));
}
