/**
 * What a phase costs each side: CPU seconds per part (a process, or a PostgreSQL cluster with all its backends) and
 * the largest RSS sampled from the processes that do the replicating (ours: producer and consumer; the peer's:
 * walsender and apply worker).
 */
import { cpuSeconds, memoryMb, treeCpuSeconds } from './proc.js';
import { round1, round2 } from './stats.js';

export interface Part {
  name: string;
  /** The pids to count: one process, or (with `tree`) a postmaster followed by its children. */
  pids(): number[];
  tree?: boolean;
  /** Sample this part's RSS (only for single processes; a cluster's backends share its buffers). */
  rss?: boolean;
}

export interface Usage {
  /** CPU seconds per part while the meter ran. */
  cpuSeconds: Record<string, number>;
  /** The largest RSS sampled per part (every 100 ms, and at the end), in MB. */
  peakRssMb: Record<string, number>;
}

const cpuOf = (part: Part) => (part.tree ? treeCpuSeconds(part.pids()) : cpuSeconds(part.pids()[0]!));

export function startMeter(parts: readonly Part[]): { stop(): Usage } {
  const cpu0 = new Map(parts.map((p) => [p.name, cpuOf(p)]));
  const peak = new Map<string, number>();
  const sample = () => {
    for (const part of parts.filter((p) => p.rss)) {
      const mb = Math.max(0, ...part.pids().map((pid) => memoryMb(pid).rss));
      peak.set(part.name, Math.max(peak.get(part.name) ?? 0, mb));
    }
  };
  sample();
  const timer = setInterval(sample, 100);
  return {
    stop() {
      clearInterval(timer);
      sample();
      return {
        cpuSeconds: Object.fromEntries(parts.map((p) => [p.name, round2(cpuOf(p) - cpu0.get(p.name)!)])),
        peakRssMb: Object.fromEntries([...peak].map(([name, mb]) => [name, round1(mb)])),
      };
    },
  };
}

export const thisProcess = (name: string): Part => ({ name, pids: () => [process.pid] });
