/** Timing a throughput phase the same way on every side. */
import { performance } from 'node:perf_hooks';
import type { MikroORM } from '@mikro-orm/core';
import { type Part, startMeter, type Usage } from './meter.js';
import { waitForQuiet } from './proc.js';
import { round3, waitUntil } from './stats.js';
import { type LiveWorkload, writeThroughOrm } from './workloads.js';

/** One timed run of a throughput phase, on any side. */
export interface ThroughputRun {
  /** From the first write (or, for a backlog, the start of streaming) to the target holding every row. */
  seconds: number;
  changesPerSecond: number;
  /** From the last source commit to the target holding every row (live phases only). */
  drainSeconds?: number;
  waitedSeconds: number;
  usage: Usage;
}

/**
 * The live phases in order, while replication runs: each workload is written through `orm`, and its time runs from
 * the first write until `arrived(lastId, rowsSoFar)` holds on the target.
 */
export async function timeLiveWorkloads(
  orm: MikroORM,
  workloads: readonly LiveWorkload[],
  parts: Part[],
  arrived: (lastId: string, rowsSoFar: number) => Promise<boolean>,
): Promise<Map<LiveWorkload['id'], ThroughputRun>> {
  const runs = new Map<LiveWorkload['id'], ThroughputRun>();
  let rowsSoFar = 0;
  for (const workload of workloads) {
    const waitedSeconds = await waitForQuiet();
    const meter = startMeter(parts);
    const started = performance.now();
    const last = await writeThroughOrm(orm, workload.rows, workload.perTx, workload.id);
    const committed = performance.now();
    rowsSoFar += workload.rows;
    await waitUntil(`${workload.id} on the target`, () => arrived(last, rowsSoFar));
    const done = performance.now();
    runs.set(workload.id, {
      seconds: round3((done - started) / 1000),
      changesPerSecond: Math.round(workload.rows / ((done - started) / 1000)),
      drainSeconds: round3((done - committed) / 1000),
      waitedSeconds,
      usage: meter.stop(),
    });
  }
  return runs;
}
