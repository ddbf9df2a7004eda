import type { MikroORM } from '@mikro-orm/core';
import { oplogEntities } from '@oplog/capture';
import { openOrm } from '@oplog/runtime';
import { expect } from 'vitest';
import { pollsEntities } from '../../apps/demo/src/entities.js';
import { tableChecksums } from './checksum.js';
import { CliProcess, ENTITIES_MODULE, type LogLine } from './cli.js';
import { createTestDatabase, type Driver, type TestDatabase } from './databases.js';
import { TcpProxy } from './tcp-proxy.js';

export const REPLICATED = ['Question', 'Choice', 'Tag'] as const;

/** What `demo load` prints when it is done. */
export interface LoadResult {
  transactions: number;
  votes: number;
}

/** One source as the consumer's GET /api/sources shows it. */
export interface SourceStatus {
  cursor: { seq: number; epoch: number };
  appliedEntries: number;
  connected: boolean;
}

/** Where the two sides stand: the source's head, the consumer's durable cursor and both copies' checksums. */
export interface Convergence {
  head: number;
  cursor: number;
  source: Record<string, string>;
  target: Record<string, string>;
}

/**
 * One end-to-end replication setup: a local (source) database written by the demo app, an oplog-producer sidecar
 * on it, an oplog-consumer on a central (target) database, and TCP proxies between them, all real processes.
 * `dispose()` kills every process it started, closes the proxies and drops both databases.
 */
export class StreamHarness {
  readonly processes: { label: string; cli: CliProcess }[] = [];
  readonly proxies: TcpProxy[] = [];
  #sourceOrm: MikroORM | undefined;
  #targetOrm: MikroORM | undefined;

  private constructor(
    readonly source: TestDatabase,
    readonly target: TestDatabase,
  ) {}

  static async create(sourceDriver: Driver, targetDriver: Driver): Promise<StreamHarness> {
    const source = await createTestDatabase(sourceDriver, 'stream_src');
    const target = await createTestDatabase(targetDriver, 'stream_dst').catch(async (error: unknown) => {
      await source.drop();
      throw error;
    });
    return new StreamHarness(source, target);
  }

  /** Runs the seed article's scenario on the source; resolves with the ids it used. */
  async scenario(): Promise<{ questionId: string; choiceIds: string[] }> {
    const demo = this.#spawn('scenario', 'demo', ['scenario', ...dbArgs(this.source)]);
    const ids = await demo.waitFor((line) => 'questionId' in line);
    await expectExit(demo, 'demo scenario');
    return ids as unknown as { questionId: string; choiceIds: string[] };
  }

  /** Starts `demo load` on the source (unpaced unless a rate is given); `loadResult` waits for it. */
  load(transactions: number, rate = 100_000): CliProcess {
    return this.#spawn('load', 'demo', [
      'load',
      ...dbArgs(this.source),
      '--transactions',
      String(transactions),
      '--rate',
      String(rate),
    ]);
  }

  async loadResult(load: CliProcess, timeoutMs = 120_000): Promise<LoadResult> {
    const done = await load.waitFor((line) => 'transactions' in line, timeoutMs);
    await expectExit(load, 'demo load');
    return done as unknown as LoadResult;
  }

  /** Starts oplog-consumer on the target on a free port; resolves once it listens. */
  async startConsumer(): Promise<{ process: CliProcess; port: number }> {
    const consumer = this.#spawn('consumer', 'consumer', [
      'start',
      '--port',
      '0',
      ...dbArgs(this.target),
      '--entities',
      ENTITIES_MODULE,
    ]);
    const listening = await consumer.waitForMessage('consumer listening');
    return { process: consumer, port: Number(listening.port) };
  }

  /** Starts oplog-producer on the source, streaming to ws://127.0.0.1:port/oplog; resolves once it started. */
  async startProducer(port: number, env: Record<string, string> = {}): Promise<CliProcess> {
    const producer = this.#spawn(
      'producer',
      'producer',
      ['start', '--url', `ws://127.0.0.1:${port}/oplog`, ...dbArgs(this.source), '--entities', ENTITIES_MODULE],
      env,
    );
    await producer.waitForMessage('producer started');
    return producer;
  }

  /** A proxy to `port` (0: nowhere yet, for one started in refuse mode and retargeted later). */
  async proxy(port: number): Promise<TcpProxy> {
    const proxy = await TcpProxy.start(port);
    this.proxies.push(proxy);
    return proxy;
  }

  /** The consumer's view of the (single) source, from its status API; all zero before the source's first hello. */
  async sourceStatus(port: number): Promise<SourceStatus> {
    const response = await fetch(`http://127.0.0.1:${port}/api/sources`);
    const body = (await response.json()) as { sources: SourceStatus[] };
    return body.sources[0] ?? { cursor: { seq: 0, epoch: 0 }, appliedEntries: 0, connected: false };
  }

  /** Polls the consumer until its cursor reaches `seq` (to act in the middle of a stream). */
  async waitForCursor(port: number, seq: number, timeoutMs = 60_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const { cursor } = await this.sourceStatus(port);
      if (cursor.seq >= seq) return cursor.seq;
      if (Date.now() > deadline) throw new Error(`the consumer's cursor stayed at ${cursor.seq}, below ${seq}`);
      await sleep(100);
    }
  }

  /** Polls the source until its head reaches `seq` (to let a backlog build up). */
  async waitForHead(seq: number, timeoutMs = 60_000): Promise<void> {
    await this.waitFor(async () => (await this.head()) >= seq, timeoutMs);
    expect(await this.head(), 'the source head').toBeGreaterThanOrEqual(seq);
  }

  async sourceOrm(): Promise<MikroORM> {
    this.#sourceOrm ??= await openOrm(dbConfig(this.source), { entities: [...pollsEntities, ...oplogEntities] });
    return this.#sourceOrm;
  }

  /** Open it only once a consumer has started: the consumer creates the target's tables. */
  async targetOrm(): Promise<MikroORM> {
    this.#targetOrm ??= await openOrm(dbConfig(this.target), { entities: pollsEntities });
    return this.#targetOrm;
  }

  /** The source's head: the last seq capture allocated (oplog_source.head_seq). */
  async head(): Promise<number> {
    const rows = await (await this.sourceOrm()).em
      .getConnection()
      .execute<{ seq: number | string }[]>('select head_seq as seq from oplog_source where slot = 1');
    return Number(rows[0]?.seq ?? 0);
  }

  /** The consumer's durable cursor (oplog_consumer_cursor.seq), 0 before its first commit. */
  async cursor(): Promise<number> {
    const rows = await (await this.targetOrm()).em
      .getConnection()
      .execute<{ seq: number | string }[]>('select seq from oplog_consumer_cursor');
    expect(rows.length, 'the consumer knows exactly one source').toBeLessThanOrEqual(1);
    return Number(rows[0]?.seq ?? 0);
  }

  /** Entries still in the source's outbox (acked ones are trimmed). */
  async outboxSize(): Promise<number> {
    const rows = await (await this.sourceOrm()).em
      .getConnection()
      .execute<{ n: number | string }[]>('select count(*) as n from oplog_entry');
    return Number(rows[0]?.n ?? 0);
  }

  async voteSums(): Promise<{ source: number; target: number }> {
    const sum = async (orm: MikroORM) => {
      const rows = await orm.em
        .getConnection()
        .execute<{ votes: number | string | null }[]>('select sum(votes) as votes from choice');
      return Number(rows[0]?.votes ?? 0);
    };
    return { source: await sum(await this.sourceOrm()), target: await sum(await this.targetOrm()) };
  }

  /**
   * Where both sides stand. The checksums are read only once the cursor is at the head: reading every row while the
   * consumer catches up would only slow it down.
   */
  async convergence(): Promise<Convergence> {
    const head = await this.head();
    const cursor = await this.cursor();
    if (cursor !== head) return { head, cursor, source: {}, target: {} };
    return { head, cursor, ...(await this.checksums()) };
  }

  async checksums(): Promise<Pick<Convergence, 'source' | 'target'>> {
    const source = await tableChecksums(await this.sourceOrm(), REPLICATED);
    const target = await tableChecksums(await this.targetOrm(), REPLICATED);
    return { source, target };
  }

  /** The last lines of every process's output, for a failed test. */
  logs(lines = 25): string {
    return this.processes
      .map(({ label, cli }) => {
        const exit = cli.child.exitCode ?? cli.child.signalCode;
        return `--- ${label} (exit ${exit})\n${cli.output.slice(-lines).join('\n')}`;
      })
      .join('\n');
  }

  async dispose(): Promise<void> {
    const failures: unknown[] = [];
    // Every step runs even if an earlier one failed, so that no process or database outlives the test.
    const attempt = async (step: () => unknown) => {
      try {
        await step();
      } catch (error) {
        failures.push(error);
      }
    };
    for (const { cli } of this.processes) await attempt(() => cli.kill('SIGKILL'));
    for (const proxy of this.proxies) await attempt(() => proxy.close());
    await attempt(() => this.#sourceOrm?.close());
    await attempt(() => this.#targetOrm?.close());
    await attempt(() => this.source.drop());
    await attempt(() => this.target.drop());
    if (failures.length > 0) throw new AggregateError(failures, 'stream harness cleanup failed');
  }

  /** Polls `check` until it holds or `timeoutMs` passes; the caller asserts afterwards. */
  async waitFor(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await check()) && Date.now() < deadline) await sleep(250);
  }

  #spawn(
    label: string,
    cli: 'consumer' | 'producer' | 'demo',
    args: string[],
    env?: Record<string, string>,
  ): CliProcess {
    const started = CliProcess.start(cli, args, env);
    this.processes.push({ label: `${label} #${this.processes.length + 1}`, cli: started });
    return started;
  }
}

/**
 * Polls until the consumer's cursor equals the source's head and every replicated table (with the many-to-many
 * pivot) has the same checksum on both sides, then asserts it; on a timeout the assertion shows what differs.
 */
export async function waitForConvergence(harness: StreamHarness, timeoutMs = 60_000): Promise<Convergence> {
  const deadline = Date.now() + timeoutMs;
  let state = await harness.convergence();
  while (!converged(state) && Date.now() < deadline) {
    await sleep(250);
    state = await harness.convergence();
  }
  // After a timeout with the cursor short of the head, the checksums still show how far apart the copies are.
  if (!converged(state)) Object.assign(state, await harness.checksums());
  expect(
    { cursor: state.cursor, checksums: state.target },
    `the consumer (left) did not converge on the source (right) within ${timeoutMs / 1000} s`,
  ).toEqual({ cursor: state.head, checksums: state.source });
  return state;
}

const converged = (s: Convergence) => s.cursor === s.head && JSON.stringify(s.source) === JSON.stringify(s.target);

/** A clean stop: the process exits by itself with status 0. */
export async function expectExit(cli: CliProcess, what: string, timeoutMs = 30_000): Promise<void> {
  const code = await Promise.race([cli.exited, sleep(timeoutMs).then(() => 'still running' as const)]);
  expect(code, `${what} exit status; last output:\n${cli.output.slice(-15).join('\n')}`).toBe(0);
}

/** Waits until `process` has logged `count` lines that `match`. */
export async function waitForLogs(
  cli: CliProcess,
  match: (line: LogLine) => boolean,
  count: number,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (cli.logs.filter(match).length < count && Date.now() < deadline) await sleep(100);
  expect(
    cli.logs.filter(match).length,
    `log lines seen; last output:\n${cli.output.slice(-15).join('\n')}`,
  ).toBeGreaterThanOrEqual(count);
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The CLIs' flags for a database. */
export function dbArgs(db: TestDatabase): string[] {
  return ['--db-driver', db.driver, '--db-name', db.dbName, ...(db.clientUrl ? ['--db-url', db.clientUrl] : [])];
}

/** The runtime's DbConfig for a database. */
export function dbConfig(db: TestDatabase) {
  return { driver: db.driver, name: db.dbName, url: db.clientUrl };
}
