/** Latency figures of one run: source commit → target commit, in milliseconds, on one clock. */
import { quantile, round2 } from './stats.js';

export interface LatencyRun {
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
  meanMs: number;
}

export function latencyFigures(latenciesMs: readonly number[]): LatencyRun {
  return {
    p50Ms: round2(quantile(latenciesMs, 0.5)),
    p95Ms: round2(quantile(latenciesMs, 0.95)),
    p99Ms: round2(quantile(latenciesMs, 0.99)),
    maxMs: round2(Math.max(...latenciesMs)),
    meanMs: round2(latenciesMs.reduce((a, b) => a + b, 0) / latenciesMs.length),
  };
}
