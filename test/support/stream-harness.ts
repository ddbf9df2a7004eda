import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { MikroORM } from '@mikro-orm/core';
import type { OplogCapture } from '@oplog/capture';
import { CredentialStore, consumerEntities } from '@oplog/consumer';
import { pollsEntities } from '@oplog/demo/entities';
import { openOrm } from '@oplog/runtime';
import { afterEach, beforeEach, expect } from 'vitest';
import { tableChecksums } from './checksum.js';
import { CliProcess, cliArgv, cliEnv, ENTITIES_MODULE, type LogLine, ROOT } from './cli.js';
import { createTestDatabase, type Driver, type TestDatabase } from './databases.js';
import { dbArgs, dbConfig, type LoadResult, SourceSite, sleep } from './source-site.js';
import { TcpProxy } from './tcp-proxy.js';

export { dbArgs, dbConfig, expectExit, type LoadResult, sleep } from './source-site.js';

export const REPLICATED = ['Question', 'Choice', 'Tag'] as const;

/** The source id of the harness's (first) producer: its credential names it. */
export const SOURCE_ID = 'shop-1';

/** One source as the consumer's GET /api/sources shows it. */
export interface SourceStatus {
  id?: string;
  cursor: { seq: number; epoch: number };
  appliedEntries: number;
  connected: boolean;
  snapshot?: { reason: string; rows: number; total: number; percent: number };
  lastResync?: { reason: string; at: number };
  lastError?: { code: string; message: string; at: number };
  halted?: { code: string; message: string; at: number };
}

/** Where the two sides stand: the source's head, the consumer's durable cursor and both copies' checksums. */
export interface Convergence {
  head: number;
  cursor: number;
  source: Record<string, string>;
  target: Record<string, string>;
}

/**
 * One end-to-end replication setup: one or more local (source) sites, each a database written by the demo app with
 * an oplog-producer sidecar and its own credential, an oplog-consumer on a central (target) database, and TCP
 * proxies between them, all real processes. The single-source methods act on the first site. `dispose()` kills
 * every process it started, closes the proxies and drops every database.
 */
export class StreamHarness {
  readonly processes: { label: string; cli: CliProcess }[] = [];
  readonly proxies: TcpProxy[] = [];
  readonly sites: SourceSite[] = [];
  #targetOrm: MikroORM | undefined;
  readonly #tokens = new Map<string, Promise<string>>();

  private constructor(readonly target: TestDatabase) {}

  static async create(sourceDriver: Driver, targetDriver: Driver): Promise<StreamHarness> {
    return StreamHarness.createMany([sourceDriver], targetDriver);
  }

  /** A harness with one site per driver, named shop-1, shop-2, …, all streaming to one consumer. */
  static async createMany(sourceDrivers: readonly Driver[], targetDriver: Driver): Promise<StreamHarness> {
    const harness = new StreamHarness(await createTestDatabase(targetDriver, 'stream_dst'));
    try {
      for (const [i, driver] of sourceDrivers.entries()) {
        const db = await createTestDatabase(driver, 'stream_src');
        const id = `shop-${i + 1}`;
        harness.sites.push(
          new SourceSite(
            id,
            db,
            (...args) => harness.spawn(...args),
            () => harness.credential(id),
          ),
        );
      }
    } catch (error) {
      await harness.dispose();
      throw error;
    }
    return harness;
  }

  /** The first site. */
  get site(): SourceSite {
    return this.sites[0]!;
  }

  get source(): TestDatabase {
    return this.site.db;
  }

  scenario(): Promise<{ questionId: string; choiceIds: string[] }> {
    return this.site.scenario();
  }

  load(transactions: number, rate?: number): CliProcess {
    return this.site.load(transactions, rate);
  }

  write(transactions: number): Promise<LoadResult> {
    return this.site.write(transactions);
  }

  loadResult(load: CliProcess, timeoutMs?: number): Promise<LoadResult> {
    return this.site.loadResult(load, timeoutMs);
  }

  /** Starts oplog-consumer on the target on a free port; resolves once it listens. */
  async startConsumer(
    args: string[] = [],
    env: Record<string, string> = {},
  ): Promise<{ process: CliProcess; port: number }> {
    const consumer = this.spawn(
      'consumer',
      'consumer',
      ['start', '--port', '0', ...dbArgs(this.target), '--entities', ENTITIES_MODULE, ...args],
      env,
    );
    const listening = await consumer.waitForMessage('consumer listening');
    return { process: consumer, port: Number(listening.port) };
  }

  startProducer(port: number, env?: Record<string, string>, scheme?: string, args?: string[]): Promise<CliProcess> {
    return this.site.startProducer(port, env, scheme, args);
  }

  seedUncaptured(questions: number, choices: number): Promise<void> {
    return this.site.seedUncaptured(questions, choices);
  }

  backupSource(): Promise<void> {
    return this.site.backup();
  }

  restoreSource(): Promise<void> {
    return this.site.restore();
  }

  /** One per-source sample of the consumer's /metrics. */
  async metric(port: number, name: string): Promise<number> {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(`${name}{`));
    return Number(line?.split(' ').at(-1) ?? 0);
  }

  /** The credential of the first site (SOURCE_ID). */
  token(): Promise<string> {
    return this.site.token();
  }

  /**
   * The credential of `sourceId` in the target, created on first use through the consumer's store, as
   * `oplog-consumer sources add` does (with the credential table, if no consumer has created it yet).
   */
  credential(sourceId: string): Promise<string> {
    let token = this.#tokens.get(sourceId);
    if (!token) {
      token = (async () => {
        const orm = await openOrm(dbConfig(this.target), { entities: consumerEntities });
        try {
          await orm.schema.updateSchema({ safe: true });
          return await new CredentialStore(() => orm.em.getConnection()).add(sourceId);
        } finally {
          await orm.close();
        }
      })();
      this.#tokens.set(sourceId, token);
    }
    return token;
  }

  /** Runs `oplog-consumer sources …args` on the target database; resolves with its exit code and output. */
  async sources(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    const argv = cliArgv('consumer', ['sources', ...args, ...dbArgs(this.target)]);
    try {
      const { stdout, stderr } = await run(process.execPath, argv, { cwd: ROOT, env: cliEnv() });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const failed = error as { code: number; stdout: string; stderr: string };
      return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
    }
  }

  /** A proxy to `port` (0: nowhere yet, for one started in refuse mode and retargeted later). */
  async proxy(port: number): Promise<TcpProxy> {
    const proxy = await TcpProxy.start(port);
    this.proxies.push(proxy);
    return proxy;
  }

  /**
   * The consumer's view of source `id` (default: the only one), from its status API; all zero before the source's
   * first hello.
   */
  async sourceStatus(port: number, id?: string): Promise<SourceStatus> {
    const response = await fetch(`http://127.0.0.1:${port}/api/sources`);
    const { sources } = (await response.json()) as { sources: SourceStatus[] };
    const found = id === undefined ? sources[0] : sources.find((s) => s.id === id);
    return found ?? { cursor: { seq: 0, epoch: 0 }, appliedEntries: 0, connected: false };
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

  /** Runs `work` as the local app would: on an ORM of the source with capture registered. */
  asApp<T>(work: (orm: MikroORM) => Promise<T>, capture?: OplogCapture): Promise<T> {
    return this.site.asApp(work, capture);
  }

  sourceOrm(): Promise<MikroORM> {
    return this.site.orm();
  }

  /** Open it only once a consumer has started: the consumer creates the target's tables. */
  async targetOrm(): Promise<MikroORM> {
    this.#targetOrm ??= await openOrm(dbConfig(this.target), { entities: pollsEntities });
    return this.#targetOrm;
  }

  /** The first site's head. */
  head(): Promise<number> {
    return this.site.head();
  }

  /**
   * The consumer's durable cursor (oplog_consumer_cursor.seq) of `sourceId`, 0 before its first commit. Without
   * it, of the only source the consumer knows.
   */
  async cursor(sourceId?: string): Promise<number> {
    const connection = (await this.targetOrm()).em.getConnection();
    const rows = await (sourceId === undefined
      ? connection.execute<{ seq: number | string }[]>('select seq from oplog_consumer_cursor')
      : connection.execute<{ seq: number | string }[]>('select seq from oplog_consumer_cursor where source = ?', [
          sourceId,
        ]));
    expect(rows.length, 'the consumer knows exactly one source').toBeLessThanOrEqual(1);
    return Number(rows[0]?.seq ?? 0);
  }

  /** Entries still in the first site's outbox (acked ones are trimmed). */
  outboxSize(): Promise<number> {
    return this.site.outboxSize();
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
    await attempt(() => this.#targetOrm?.close());
    for (const site of this.sites) await attempt(() => site.dispose());
    await attempt(() => this.target.drop());
    if (failures.length > 0) throw new AggregateError(failures, 'stream harness cleanup failed');
  }

  /** Polls `check` until it holds or `timeoutMs` passes; the caller asserts afterwards. */
  async waitFor(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await check()) && Date.now() < deadline) await sleep(250);
  }

  /** Starts a CLI that the harness owns: killed at dispose, its output shown when the test fails. */
  spawn(
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
 * Registers the hooks for one harness per test: its processes' output is printed when the test fails, and it is
 * disposed after the test. Returns the function that creates it (with one site per source driver).
 */
export function harnessPerTest(): (
  sourceDrivers: Driver | readonly Driver[],
  targetDriver: Driver,
) => Promise<StreamHarness> {
  let harness: StreamHarness | undefined;
  beforeEach(({ onTestFailed }) => {
    harness = undefined;
    onTestFailed(() => {
      if (harness) console.error(`process output of the failed test:\n${harness.logs()}`);
    });
  });
  afterEach(async () => {
    await harness?.dispose();
  });
  return async (sourceDrivers, targetDriver) => {
    harness = await StreamHarness.createMany([sourceDrivers].flat(), targetDriver);
    return harness;
  };
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

const run = promisify(execFile);
