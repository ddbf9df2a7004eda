/**
 * Our pipeline as it is deployed: `oplog-consumer` on the target database and an `oplog-producer` sidecar on the
 * source, two processes over 127.0.0.1, with the application writing into the source through MikroORM + capture.
 */
import { performance } from 'node:perf_hooks';
import type { MikroORM } from '@mikro-orm/core';
import { oplogEntities, readSourceHead } from '@oplog/capture';
import { consumerEntities } from '@oplog/consumer';
import { pollsEntities } from '@oplog/demo/entities';
import { openOrm } from '@oplog/runtime';
import { tableChecksums } from '@oplog/testing/checksum';
import type { Backlog } from './backlog.js';
import { openSource } from './backlog.js';
import { Child, ENTITIES_MODULE, SCRIPTS } from './child.js';
import { cloneDb, type Db, dbConfig, dbFlags, newDb } from './db.js';
import { type Part, startMeter, thisProcess } from './meter.js';
import { waitForQuiet } from './proc.js';
import { round3, waitUntil } from './stats.js';
import { type ThroughputRun, timeLiveWorkloads } from './timed.js';
import type { LiveWorkload } from './workloads.js';

const progress = (line: string) => process.stderr.write(`${line}\n`);

/**
 * 20,000 rows in one transaction (~5 MB) exceed the consumer's default maxPayload (4 MiB); the producer would send
 * them in `partial` batches. The bench raises the limit so that the one-transaction phase keeps measuring one frame,
 * as its earlier runs did. On loopback, producers need no credential.
 */
const CONSUMER_ENV = { OPLOG_MAX_PAYLOAD: String(64 << 20), OPLOG_AUTH: 'none' };

export interface Pipeline {
  consumer: Child;
  producer: Child;
  port: number;
  /** The seq the consumer has durably applied. */
  appliedSeq(): Promise<number>;
  parts: Part[];
  stop(): Promise<void>;
}

/** Starts the consumer on `target`, then the producer on `source`, and waits until they are connected. */
export async function startPipeline(source: Db, target: Db, clusterParts: Part[]): Promise<Pipeline> {
  const consumer = new Child(
    'consumer',
    SCRIPTS.consumer,
    ['start', '--port', '0', ...dbFlags(target), '--entities', ENTITIES_MODULE],
    CONSUMER_ENV,
  );
  let producer: Child | undefined;
  try {
    const listening = await consumer.waitFor('"consumer listening"', (l) => l.msg === 'consumer listening');
    const port = Number(listening.port);
    producer = new Child('producer', SCRIPTS.producer, [
      'start',
      '--url',
      `ws://127.0.0.1:${port}/oplog`,
      ...dbFlags(source),
      '--entities',
      ENTITIES_MODULE,
    ]);
    await producer.waitFor('"connected"', (l) => l.msg === 'connected');
    const children = [consumer, producer];
    let stopped = false;
    return {
      consumer,
      producer,
      port,
      async appliedSeq() {
        for (const child of children) if (!child.running) throw child.failure('exited while streaming');
        const response = await fetch(`http://127.0.0.1:${port}/api/sources`);
        const body = (await response.json()) as { sources: { cursor: { seq: number } }[] };
        return body.sources[0]?.cursor.seq ?? 0;
      },
      parts: [
        { name: 'producer', pids: () => [producer!.pid], rss: true },
        { name: 'consumer', pids: () => [consumer.pid], rss: true },
        thisProcess('bench (app writes)'),
        ...clusterParts,
      ],
      async stop() {
        if (stopped) return;
        stopped = true;
        await producer?.stop();
        await consumer.stop();
        for (const child of children) {
          for (const line of child.warnings()) progress(`    ${child.label} warned: ${JSON.stringify(line)}`);
        }
      },
    };
  } catch (error) {
    await producer?.stop();
    await consumer.stop();
    throw error;
  }
}

/** The live phases on one fresh source/target pair, in order; the outbox keeps growing from one to the next. */
export async function liveRounds(
  driver: Db['driver'],
  workloads: readonly LiveWorkload[],
  servers: { source?: string; target?: string },
  clusterParts: Part[],
): Promise<Map<LiveWorkload['id'], ThroughputRun>> {
  const source = await newDb(driver, 'live_source', servers.source);
  const target = await newDb(driver, 'live_target', servers.target);
  let orm: MikroORM | undefined;
  let pipeline: Pipeline | undefined;
  try {
    orm = await openSource(source);
    pipeline = await startPipeline(source, target, clusterParts);
    const runs = await timeLiveWorkloads(orm, workloads, pipeline.parts, async (_, rowsSoFar) => {
      return (await pipeline!.appliedSeq()) >= rowsSoFar;
    });
    const head = workloads.reduce((sum, w) => sum + w.rows, 0);
    await verifyReplica(source, target, head);
    return runs;
  } finally {
    await pipeline?.stop();
    await orm?.close();
    await source.drop();
    await target.drop();
  }
}

/** Catch-up of a backlog built while no consumer ran: from the producer's "connected" to the cursor at the head. */
export async function catchUpOnce(
  backlog: Backlog,
  label: string,
  targetServer: string | undefined,
  clusterParts: Part[],
  verify: boolean,
): Promise<ThroughputRun> {
  const source = await cloneDb(backlog.template, `${label}_source`);
  const target = await newDb(backlog.template.driver, `${label}_target`, targetServer);
  let pipeline: Pipeline | undefined;
  try {
    await knownBeforeTheOutage(source, target);
    const waitedSeconds = await waitForQuiet();
    pipeline = await startPipeline(source, target, clusterParts);
    const meter = startMeter(pipeline.parts);
    const started = performance.now();
    await waitUntil(
      `seq ${backlog.entries} applied`,
      async () => (await pipeline!.appliedSeq()) >= backlog.entries,
      15 * 60_000,
      20,
    );
    const seconds = (performance.now() - started) / 1000;
    const usage = meter.stop();
    await pipeline.stop();
    if (verify) await verifyReplica(source, target, backlog.entries);
    return {
      seconds: round3(seconds),
      changesPerSecond: Math.round(backlog.entries / seconds),
      waitedSeconds,
      usage,
    };
  } finally {
    await pipeline?.stop();
    await source.drop();
    await target.drop();
  }
}

/**
 * The consumer knew the source, empty, before the outage: a cursor at 0 for its incarnation with every entity
 * covered. Without it the consumer would snapshot the source's rows instead of replaying its log.
 */
export async function knownBeforeTheOutage(source: Db, target: Db): Promise<void> {
  const sourceOrm = await openOrm(dbConfig(source), { entities: [...pollsEntities, ...oplogEntities] });
  const head = await readSourceHead(sourceOrm.em.getConnection()).finally(() => sourceOrm.close());
  const orm = await openOrm(dbConfig(target), { entities: [...pollsEntities, ...consumerEntities] });
  try {
    await orm.schema.updateSchema({ safe: true });
    await orm.em.getConnection().execute(
      `insert into oplog_consumer_cursor (source, incarnation, seq, epoch, tx_id, entities, head_seq, head_epoch, updated_at)
       values (?, ?, 0, 0, null, ?, 0, 0, ?)`,
      [head!.sourceId, head!.incarnation, JSON.stringify(['Tag', 'Question', 'Choice']), Date.now()],
      'run',
    );
  } finally {
    await orm.close();
  }
}

/** The replica must hold exactly the source's rows. */
async function verifyReplica(source: Db, target: Db, entries: number): Promise<void> {
  const sums: Record<string, string>[] = [];
  for (const db of [source, target]) {
    const orm = await openOrm(dbConfig(db), { entities: [...pollsEntities, ...oplogEntities, ...consumerEntities] });
    try {
      sums.push(await tableChecksums(orm, ['Question']));
    } finally {
      await orm.close();
    }
  }
  const [a, b] = sums;
  if (JSON.stringify(a) !== JSON.stringify(b) || !a?.question?.startsWith(`${entries}:`)) {
    throw new Error(`replica differs from the source: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
  }
}
