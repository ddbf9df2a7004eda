/**
 * The peer: PostgreSQL 15's native logical replication between the two throwaway clusters. The source database
 * on cluster 1 publishes the demo's question table (CREATE PUBLICATION), the target database on cluster 2
 * subscribes to it (CREATE SUBSCRIPTION, no initial copy). The application writes through the same ORM as ours,
 * without capture: the walsender decodes the WAL instead.
 *
 * Latency uses the database clock on both ends, as the issue asks: the source table has a created_at column that
 * defaults to clock_timestamp(), the target's copy of it arrives with the row, and the target alone has received_at,
 * defaulting to clock_timestamp() when the apply worker inserts the row. Both clusters read the same system clock.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { MikroORM } from '@mikro-orm/core';
import { pollsEntities } from '@oplog/demo/entities';
import { openOrm } from '@oplog/runtime';
import pg from 'pg';
import type { Cluster } from './clusters.js';
import { dbConfig, newDb } from './db.js';
import { type LatencyRun, latencyFigures } from './latency.js';
import { type Part, startMeter, thisProcess, type Usage } from './meter.js';
import { waitForQuiet } from './proc.js';
import { round3, waitUntil } from './stats.js';
import { type ThroughputRun, timeLiveWorkloads } from './timed.js';
import { commitPaced, type LiveWorkload } from './workloads.js';

export interface PeerPair {
  orm: MikroORM;
  source: pg.Client;
  target: pg.Client;
  /** The walsender (source) and the apply worker (target), for CPU and RSS. */
  parts: Part[];
  /** Whether the target holds the row with this id. */
  has(id: string): Promise<boolean>;
  /** Stops the apply worker and the walsender, and waits until both have gone. */
  disable(): Promise<void>;
  /** Resumes, and waits until a new apply worker and walsender stream. */
  enable(): Promise<void>;
  drop(): Promise<void>;
}

async function connect(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  return client;
}

async function one<T>(client: pg.Client, sql: string, values: unknown[] = []): Promise<T | undefined> {
  return (await client.query(sql, values)).rows[0] as T | undefined;
}

const SUB = 'bench_sub';

/** A publishing source database on cluster 1 and a subscribed target database on cluster 2, streaming. */
export async function createPeerPair(c1: Cluster, c2: Cluster, clusterParts: Part[]): Promise<PeerPair> {
  const sourceDb = await newDb('postgresql', 'peer_source', c1.url);
  const targetDb = await newDb('postgresql', 'peer_target', c2.url);
  const targetOrm = await openOrm(dbConfig(targetDb), { entities: pollsEntities });
  await targetOrm.schema.updateSchema({ safe: true });
  await targetOrm.close();
  const orm = await openOrm(dbConfig(sourceDb), { entities: pollsEntities });
  await orm.schema.updateSchema({ safe: true });
  const source = await connect(sourceDb.url!);
  const target = await connect(targetDb.url!);
  await source.query('alter table question add column created_at timestamptz default clock_timestamp()');
  await source.query('create publication bench_pub for table question');
  await target.query(
    'alter table question add column created_at timestamptz, add column received_at timestamptz default clock_timestamp()',
  );
  await target.query(
    `create subscription ${SUB} connection 'host=127.0.0.1 port=${c1.port} dbname=${sourceDb.name} user=postgres' publication bench_pub with (copy_data = false)`,
  );
  const applyPid = async () =>
    Number((await one<{ pid: number }>(target, `select pid from pg_stat_subscription where subname = $1`, [SUB]))?.pid);
  const walsenderPid = async () =>
    Number(
      (
        await one<{ pid: number }>(
          source,
          `select pid from pg_stat_replication where application_name = $1 and state = 'streaming'`,
          [SUB],
        )
      )?.pid,
    );
  const pids = { apply: 0, walsender: 0 };
  const streaming = async () => {
    pids.apply = await applyPid();
    pids.walsender = await walsenderPid();
    return pids.apply > 0 && pids.walsender > 0;
  };
  await waitUntil('the subscription to stream', streaming, 60_000, 20);
  return {
    orm,
    source,
    target,
    parts: [
      { name: 'walsender', pids: () => [pids.walsender], rss: true },
      { name: 'apply worker', pids: () => [pids.apply], rss: true },
      thisProcess('bench (app writes)'),
      ...clusterParts,
    ],
    has: async (id) => (await target.query('select 1 from question where id = $1', [id])).rowCount === 1,
    async disable() {
      await target.query(`alter subscription ${SUB} disable`);
      await waitUntil(
        'the apply worker and walsender to stop',
        async () => !(await applyPid()) && !(await walsenderPid()),
      );
    },
    async enable() {
      await target.query(`alter subscription ${SUB} enable`);
      await waitUntil('the subscription to stream again', streaming, 60_000, 5);
    },
    async drop() {
      await target.query(`drop subscription if exists ${SUB}`).catch(() => {});
      await orm.close();
      await source.end();
      await target.end();
      await sourceDb.drop();
      await targetDb.drop();
    },
  };
}

/** The live phases, in order, on one fresh pair: from the first write to the target holding the last row. */
export async function peerLiveRounds(
  c1: Cluster,
  c2: Cluster,
  workloads: readonly LiveWorkload[],
  clusterParts: Part[],
): Promise<Map<LiveWorkload['id'], ThroughputRun>> {
  const pair = await createPeerPair(c1, c2, clusterParts);
  try {
    return await timeLiveWorkloads(pair.orm, workloads, pair.parts, (last) => pair.has(last));
  } finally {
    await pair.drop();
  }
}

/**
 * "Target offline": the subscription is disabled while `entries` single-row transactions are committed on the
 * source (by a server-side loop, one COMMIT per row, synchronous_commit off while building as for our backlog);
 * then it is enabled, and the time runs from ENABLE to the target holding the last row.
 */
export async function peerCatchUpOnce(
  c1: Cluster,
  c2: Cluster,
  entries: number,
  clusterParts: Part[],
): Promise<ThroughputRun> {
  const pair = await createPeerPair(c1, c2, clusterParts);
  try {
    await pair.disable();
    const last = randomUUID();
    await pair.source.query('set synchronous_commit = off');
    await pair.source.query(`do $$
      begin
        for i in 1..${entries - 1} loop
          insert into question (id, question_text, pub_date) values (gen_random_uuid(), 'Question ' || i || '?', now());
          commit;
        end loop;
        insert into question (id, question_text, pub_date) values ('${last}', 'Question ${entries}?', now());
      end $$`);
    await pair.source.query('reset synchronous_commit');
    const waitedSeconds = await waitForQuiet();
    // The walsender and apply worker do not exist yet: the meter counts them from 0 once they do.
    const meter = startMeter(pair.parts);
    const started = performance.now();
    await pair.enable();
    await waitUntil(`row ${last} on the target`, () => pair.has(last), 15 * 60_000, 20);
    const seconds = (performance.now() - started) / 1000;
    const usage: Usage = meter.stop();
    const count = await one<{ n: string }>(pair.target, 'select count(*) as n from question');
    if (Number(count?.n) !== entries) throw new Error(`the peer's target holds ${count?.n} rows, expected ${entries}`);
    return { seconds: round3(seconds), changesPerSecond: Math.round(entries / seconds), waitedSeconds, usage };
  } finally {
    await pair.drop();
  }
}

/**
 * The peer's latency: `commits` single-row transactions at `ratePerSecond` after a warm-up of 100; received_at −
 * created_at of each measured row, read on the target once the last one is there.
 */
export async function peerLatencyOnce(
  c1: Cluster,
  c2: Cluster,
  options: { commits: number; ratePerSecond: number },
  clusterParts: Part[],
): Promise<LatencyRun & { waitedSeconds: number; usage: Usage }> {
  const pair = await createPeerPair(c1, c2, clusterParts);
  try {
    let last = '';
    await commitPaced(pair.orm, 100, options.ratePerSecond, 'Warm-up', (id) => {
      last = id;
    });
    await waitUntil('the warm-up on the target', () => pair.has(last));
    const waitedSeconds = await waitForQuiet();
    const meter = startMeter(pair.parts);
    await commitPaced(pair.orm, options.commits, options.ratePerSecond, 'Measured', (id) => {
      last = id;
    });
    await waitUntil('the last commit on the target', () => pair.has(last));
    const usage = meter.stop();
    const { rows } = await pair.target.query<{ ms: number }>(
      `select extract(epoch from received_at - created_at) * 1000 as ms from question where question_text like 'Measured %'`,
    );
    if (rows.length !== options.commits) throw new Error(`the peer's target holds ${rows.length} measured rows`);
    return { ...latencyFigures(rows.map((r) => Number(r.ms))), waitedSeconds, usage };
  } finally {
    await pair.drop();
  }
}
