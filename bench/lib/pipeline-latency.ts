/**
 * Our commit-to-commit latency: bench/stream-writer.ts, a process running the polls app with capture and an
 * embedded producer, commits single-row transactions at a steady rate; the consumer runs inside this process
 * (createConsumer), so its onApplied hook gives the instant each entry became durable there. Both processes read
 * CLOCK_MONOTONIC (process.hrtime), one clock.
 */
import { type Consumer, consumerEntities, createConsumer } from '@oplog/consumer';
import { pollsEntities } from '@oplog/demo/entities';
import type { Cursor } from '@oplog/protocol';
import { createLogger, openOrm } from '@oplog/runtime';
import { Child, SCRIPTS } from './child.js';
import { type Db, dbConfig, dbFlags, newDb } from './db.js';
import { type LatencyRun, latencyFigures } from './latency.js';
import { type Part, startMeter, thisProcess, type Usage } from './meter.js';
import { waitForQuiet } from './proc.js';

/** Microseconds on CLOCK_MONOTONIC, the clock the writer process reads too. */
const nowUs = () => Number(process.hrtime.bigint() / 1000n);

export interface LatencyOptions {
  commits: number;
  ratePerSecond: number;
}

export async function pipelineLatencyOnce(
  driver: Db['driver'],
  servers: { source?: string; target?: string },
  clusterParts: Part[],
  options: LatencyOptions,
): Promise<LatencyRun & { waitedSeconds: number; usage: Usage }> {
  const source = await newDb(driver, 'latency_source', servers.source);
  const target = await newDb(driver, 'latency_target', servers.target);
  // seq → the instant the consumer's transaction holding it committed.
  const durableAtUs = new Map<number, number>();
  let lastSeq = 0;
  const onApplied = (_source: string, cursor: Cursor) => {
    const at = nowUs();
    for (let s = lastSeq + 1; s <= cursor.seq; s++) durableAtUs.set(s, at);
    lastSeq = Math.max(lastSeq, cursor.seq);
  };
  const orm = await openOrm(dbConfig(target), { entities: [...pollsEntities, ...consumerEntities] });
  let consumer: Consumer | undefined;
  let writer: Child | undefined;
  try {
    await orm.schema.updateSchema({ safe: true });
    consumer = createConsumer(orm, { port: 0, auth: 'none', onApplied, logger: createLogger({ level: 'silent' }) });
    const { port } = await consumer.listen();
    const waitedSeconds = await waitForQuiet();
    writer = new Child('writer', SCRIPTS.writer, [
      ...dbFlags(source),
      '--url',
      `ws://127.0.0.1:${port}/oplog`,
      '--commits',
      String(options.commits),
      '--rate',
      String(options.ratePerSecond),
    ]);
    await writer.waitFor('the warm-up to be acked', (l) => l.msg === 'measuring', 120_000);
    const meter = startMeter([
      { name: 'writer (app + producer)', pids: () => [writer!.pid], rss: true },
      { ...thisProcess('consumer (in bench)'), rss: true },
      ...clusterParts,
    ]);
    const line = await writer.waitFor(
      'its result',
      (l) => 'result' in l,
      120_000 + (options.commits / options.ratePerSecond) * 2000,
    );
    const usage = meter.stop();
    const result = line.result as { firstSeq: number; committedAtUs: number[] };
    const latenciesMs = result.committedAtUs.map((t0, i) => {
      const t1 = durableAtUs.get(result.firstSeq + i);
      if (t1 === undefined) throw new Error(`seq ${result.firstSeq + i} was acked but its commit was not seen`);
      return (t1 - t0) / 1000;
    });
    return { ...latencyFigures(latenciesMs), waitedSeconds, usage };
  } finally {
    await writer?.stop();
    await consumer?.stop();
    await orm.close();
    await source.drop();
    await target.drop();
  }
}
