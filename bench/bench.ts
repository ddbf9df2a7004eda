/**
 * `npm run bench`: our pipeline side by side with PostgreSQL 15's native logical replication, on the same
 * machine, in one run. See docs/performance.md for the method and the latest figures.
 *
 *   npm run -s bench [-- --json] [-- --quick] [-- --rounds 3] [-- --sides peer,pg,sqlite]
 *     [-- --phases one-tx,batched,single,latency,backlog,memory,huge-tx] [-- --huge-tx-rows N] [-- --cpu-prof DIR]
 *     [-- --cli-node-flags="..."]
 *
 * Sides: `peer` (native logical replication, cluster 1 → cluster 2), `pg` (ours, PG→PG on the same two clusters:
 * source database on cluster 1, target on cluster 2), `sqlite` (ours, SQLite→SQLite). The two clusters are
 * throwaway PostgreSQL 15 servers with wal_level=logical, created under a temp directory on free ports, run as
 * the postgres user and removed at the end (also on failure or Ctrl-C). Our CLIs run compiled, as deployed: the bench
 * runs `turbo run build` first.
 *
 * Phases (each a median of --rounds, the sides interleaved within each round):
 *   one-tx, batched, single: 20k rows in one transaction, in 1,000-row transactions, as single-row transactions,
 *     written through MikroORM while replication runs; from the first write to the target holding the last row;
 *   latency: 1,000 single-row commits at 100/s after 100 warm-up commits; source commit → target commit;
 *   backlog: 100k single-row transactions written while the target is offline, then caught up;
 *   memory (not by default): ours only, peak RSS while a 1M backlog catches up;
 *   huge-tx (not by default): ours only, one transaction of 1M updates streamed in parts and applied whole: rate
 *     and peak RSS (about 3 min a side here with its setup, so it stays out of the default run).
 * Then the ceilings: raw SQLite and PostgreSQL inserts, a raw ws echo. With --json, stdout holds one JSON object
 * (the input of bench/chart.ts); otherwise markdown tables.
 */
import { cpus, release, totalmem } from 'node:os';
import { resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { type Backlog, type BacklogMethod, buildBacklog } from './lib/backlog.js';
import { measureCeilings } from './lib/ceilings.js';
import { buildClis, configureChildren } from './lib/child.js';
import { type Cluster, removeAllClusters, startCluster } from './lib/clusters.js';
import type { Driver } from './lib/db.js';
import { hugeTransactionOnce } from './lib/huge-tx.js';
import type { Part } from './lib/meter.js';
import { peerCatchUpOnce, peerLatencyOnce, peerLiveRounds } from './lib/peer.js';
import { catchUpOnce, liveRounds } from './lib/pipeline.js';
import { pipelineLatencyOnce } from './lib/pipeline-latency.js';
import { renderMarkdown } from './lib/report.js';
import {
  type BenchResult,
  PHASES,
  type PhaseId,
  type PhaseRuns,
  type Run,
  SIDES,
  type SideId,
  summarize,
} from './lib/result.js';
import { round1 } from './lib/stats.js';
import type { ThroughputRun } from './lib/timed.js';
import { liveWorkloads } from './lib/workloads.js';

const { values: args } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    quick: { type: 'boolean', default: false },
    rounds: { type: 'string' },
    'single-rounds': { type: 'string' },
    sides: { type: 'string', default: SIDES.map((s) => s.id).join(',') },
    phases: { type: 'string', default: 'one-tx,batched,single,latency,backlog' },
    rows: { type: 'string' },
    backlog: { type: 'string' },
    commits: { type: 'string' },
    'memory-entries': { type: 'string', default: '1000000' },
    'huge-tx-rows': { type: 'string' },
    'orm-backlog': { type: 'boolean', default: false },
    'cpu-prof': { type: 'string' },
    // As the README recommends deploying them (see its "Memory").
    'cli-node-flags': { type: 'string', default: '--max-old-space-size=256' },
  },
});

function count(
  name: 'rounds' | 'single-rounds' | 'rows' | 'backlog' | 'commits' | 'memory-entries' | 'huge-tx-rows',
  full: number,
  quick: number,
) {
  const raw = args[name] ?? String(args.quick ? quick : full);
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} must be a positive integer, got ${raw}`);
  return value;
}

const settings = {
  quick: args.quick === true,
  rounds: count('rounds', 3, 1),
  /** 20k single-row transactions take 30-100 s per side here: by default they run in the first round only. */
  singleRounds: count('single-rounds', 1, 1),
  rows: count('rows', 20_000, 2_000),
  batch: 1_000,
  backlog: count('backlog', 100_000, 10_000),
  commits: count('commits', 1_000, 200),
  ratePerSecond: 100,
  memoryEntries: count('memory-entries', 1_000_000, 100_000),
  hugeTxRows: count('huge-tx-rows', 1_000_000, 100_000),
  backlogMethod: (args['orm-backlog'] ? 'orm' : 'bulk') as BacklogMethod,
};
const sides = parseList(
  'sides',
  args.sides,
  SIDES.map((s) => s.id),
);
const phases = parseList(
  'phases',
  args.phases,
  PHASES.map((p) => p.id),
);
configureChildren({
  cpuProfDir: args['cpu-prof'] && resolve(args['cpu-prof']),
  nodeFlags: args['cli-node-flags'].split(' ').filter(Boolean),
});

function parseList<T extends string>(name: string, raw: string, known: readonly T[]): T[] {
  return raw.split(',').map((item) => {
    if (!(known as readonly string[]).includes(item)) throw new Error(`--${name}: unknown ${item}`);
    return item as T;
  });
}

// With --json, stdout carries the result object only: everything else (progress, any library logging) goes to stderr.
const out = console.log.bind(console);
if (args.json) console.log = console.info = console.warn = console.debug = console.error.bind(console);
const progress = (line: string) => process.stderr.write(`${line}\n`);

function clusterParts(c1: Cluster, c2: Cluster): Part[] {
  return [
    { name: 'source PostgreSQL', pids: () => c1.pids(), tree: true },
    { name: 'target PostgreSQL', pids: () => c2.pids(), tree: true },
  ];
}

type OurSide = Exclude<SideId, 'peer'>;
const driverOf = (side: OurSide): Driver => (side === 'pg' ? 'postgresql' : 'sqlite');

function describe(run: ThroughputRun): string {
  const cpu = Object.entries(run.usage.cpuSeconds)
    .map(([part, s]) => `${part} ${s}`)
    .join(', ');
  return `${run.changesPerSecond.toLocaleString('en')} changes/s (${run.seconds} s; cpu s: ${cpu})`;
}

async function main(): Promise<void> {
  const started = performance.now();
  const runs: PhaseRuns = {};
  const record = (phase: PhaseId, side: SideId, run: Run) => {
    const bySide = runs[phase] ?? {};
    bySide[side] = [...(bySide[side] ?? []), run];
    runs[phase] = bySide;
  };
  if (sides.some((side) => side !== 'peer')) {
    progress('building the CLIs (turbo run build)');
    buildClis();
  }
  progress('starting two throwaway PostgreSQL 15 clusters (wal_level=logical)');
  // The launcher restarts an apply worker no sooner than this after the last start (5 s by default).
  const fast = { wal_retrieve_retry_interval: '100ms' };
  const c1 = await startCluster('source', fast);
  const c2 = await startCluster('target', fast);
  const parts = clusterParts(c1, c2);
  // Our PG→PG side runs on the peer's clusters: source databases on cluster 1, targets on cluster 2.
  const servers = (side: OurSide) => (side === 'pg' ? { source: c1.url, target: c2.url } : {});
  const partsOf = (side: OurSide) => (side === 'pg' ? parts : []);
  const ours = sides.filter((s): s is OurSide => s !== 'peer');
  try {
    const live = liveWorkloads(settings.rows, settings.batch).filter((w) => phases.includes(w.id));
    const backlogs = new Map<OurSide, Backlog>();
    if (phases.includes('backlog')) {
      for (const side of ours) {
        progress(
          `${side}: building a backlog of ${settings.backlog} single-row transactions (${settings.backlogMethod})`,
        );
        backlogs.set(
          side,
          await buildBacklog(driverOf(side), settings.backlog, settings.backlogMethod, servers(side).source),
        );
      }
    }
    for (let round = 1; round <= settings.rounds; round++) {
      const tag = `round ${round}/${settings.rounds}`;
      const workloads = live.filter((w) => w.id !== 'single' || round <= settings.singleRounds);
      const latencyOptions = { commits: settings.commits, ratePerSecond: settings.ratePerSecond };
      for (const side of workloads.length > 0 ? sides : []) {
        const byWorkload =
          side === 'peer'
            ? await peerLiveRounds(c1, c2, workloads, parts)
            : await liveRounds(driverOf(side), workloads, servers(side), partsOf(side));
        for (const [id, run] of byWorkload) {
          record(id, side, run);
          progress(`  ${tag} ${id} ${side}: ${describe(run)}`);
        }
      }
      for (const side of phases.includes('latency') ? sides : []) {
        const run =
          side === 'peer'
            ? await peerLatencyOnce(c1, c2, latencyOptions, parts)
            : await pipelineLatencyOnce(driverOf(side), servers(side), partsOf(side), latencyOptions);
        record('latency', side, run);
        progress(
          `  ${tag} latency ${side}: p50 ${run.p50Ms} ms, p95 ${run.p95Ms} ms, p99 ${run.p99Ms} ms, max ${run.maxMs} ms`,
        );
      }
      for (const side of phases.includes('backlog') ? sides : []) {
        const run =
          side === 'peer'
            ? await peerCatchUpOnce(c1, c2, settings.backlog, parts)
            : await catchUpOnce(
                backlogs.get(side)!,
                `catchup${round}`,
                servers(side).target,
                partsOf(side),
                round === 1,
              );
        record('backlog', side, run);
        progress(`  ${tag} backlog ${side}: ${describe(run)}`);
      }
    }
    for (const backlog of backlogs.values()) await backlog.template.drop();
    for (const side of phases.includes('memory') ? ours : []) {
      progress(`${side} memory: building a backlog of ${settings.memoryEntries} single-row transactions (bulk)`);
      const backlog = await buildBacklog(driverOf(side), settings.memoryEntries, 'bulk', servers(side).source);
      try {
        const run = await catchUpOnce(backlog, 'memory', servers(side).target, partsOf(side), false);
        record('memory', side, run);
        progress(`  memory ${side}: peak RSS ${JSON.stringify(run.usage.peakRssMb)} MB; ${describe(run)}`);
      } finally {
        await backlog.template.drop();
      }
    }
    for (const side of phases.includes('huge-tx') ? ours : []) {
      progress(`${side} huge-tx: one transaction of ${settings.hugeTxRows} updates`);
      const run = await hugeTransactionOnce(driverOf(side), settings.hugeTxRows, servers(side), partsOf(side));
      record('huge-tx', side, run);
      progress(`  huge-tx ${side}: peak RSS ${JSON.stringify(run.usage.peakRssMb)} MB; ${describe(run)}`);
    }
    progress('ceilings');
    const ceilings = await measureCeilings(c2.url, settings.backlog, Math.min(settings.rows, 2_000));
    const result: BenchResult = {
      machine: {
        cpus: cpus().length,
        cpuModel: cpus()[0]?.model ?? 'unknown',
        memoryGb: round1(totalmem() / 2 ** 30),
        kernel: release(),
        node: process.version,
        postgres: '15',
      },
      settings: { ...settings, sides, phases },
      phases: summarize(runs),
      ceilings,
      totalSeconds: round1((performance.now() - started) / 1000),
    };
    if (args.json) out(JSON.stringify(result));
    else out(renderMarkdown(result));
  } finally {
    removeAllClusters();
  }
}

await main();
