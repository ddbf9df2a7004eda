import type { MikroORM } from '@mikro-orm/core';
import { openLocalApp } from '@oplog/demo/local-app';
import { CliProcess, ENTITIES_MODULE, type LogLine } from '../support/cli.js';
import type { TestDatabase } from '../support/databases.js';
import { dbArgs, dbConfig } from '../support/stream-harness.js';
import { TcpProxy } from '../support/tcp-proxy.js';

/** Short heartbeat timeouts, so that a stall of a few seconds is detected; a short backoff, so that lag recovers fast. */
const PEER_TIMEOUT_MS = '3000';
const PRODUCER_ENV = { OPLOG_PEER_TIMEOUT_MS: PEER_TIMEOUT_MS, OPLOG_BACKOFF__MAX_MS: '1000' };
const CONSUMER_ENV = { OPLOG_PEER_TIMEOUT_MS: PEER_TIMEOUT_MS };
export const PEER_TIMEOUT = Number(PEER_TIMEOUT_MS);

/** One `demo load` run on a source, and what it reported when it finished. */
export interface LoadRun {
  seed: number;
  transactions: number;
  cli: CliProcess;
  result?: { transactions: number; votes: number; rolledBack: number };
  /** When it reported its result. */
  endedAt?: number;
}

/** Where a source's log ends: what the consumer's cursor must reach. */
export interface SourceHead {
  sourceId: string;
  incarnation: string;
  seq: number;
}

/** One source as the consumer's GET /api/sources shows it. */
export interface SourceStatus {
  id: string;
  connected: boolean;
  incarnation: string | null;
  cursor: { seq: number };
  /** A snapshot in progress. */
  snapshot?: unknown;
}

/** A process that exited while nobody meant it to: a crash, whatever the runner was doing. */
export interface Crash {
  label: string;
  code: number | null;
  signal: string | null;
  tail: string;
}

/** One local server: its database, the proxy its producer reaches the consumer through, its producer and load. */
export class SourceNode {
  producer: CliProcess | undefined;
  sourceId = '';
  readonly loads: LoadRun[] = [];
  #orm: MikroORM | undefined;

  constructor(
    readonly label: string,
    readonly db: TestDatabase,
    readonly proxy: TcpProxy,
  ) {}

  get load(): LoadRun | undefined {
    return this.loads.at(-1);
  }

  /** The runner's own connection, opened with the app's schema (so that the producer finds its tables). */
  async orm(): Promise<MikroORM> {
    this.#orm ??= await openLocalApp(dbConfig(this.db));
    return this.#orm;
  }

  async head(): Promise<SourceHead> {
    const [row] = await (await this.orm()).em
      .getConnection()
      .execute<{ source_id: string; incarnation: string; head_seq: number | string }[]>(
        'select source_id, incarnation, head_seq from oplog_source where slot = 1',
      );
    return { sourceId: row!.source_id, incarnation: row!.incarnation, seq: Number(row!.head_seq) };
  }

  async close(): Promise<void> {
    await this.#orm?.close();
    this.#orm = undefined;
  }
}

/**
 * Every process of a fault run: one oplog-consumer, and per source an oplog-producer sidecar (through its own TCP
 * proxy) and a `demo load`. Processes the runner kills or stops on purpose are marked first; any other exit is a
 * crash, kept for the verdict.
 */
export class Fleet {
  readonly sources: SourceNode[] = [];
  readonly processes: { label: string; cli: CliProcess }[] = [];
  readonly crashes: Crash[] = [];
  consumer: CliProcess | undefined;
  consumerPort = 0;
  readonly #expectedExit = new Set<CliProcess>();

  constructor(readonly consumerDb: TestDatabase) {}

  async addSource(label: string, db: TestDatabase): Promise<SourceNode> {
    const node = new SourceNode(label, db, await TcpProxy.start(this.consumerPort));
    await node.orm();
    this.sources.push(node);
    return node;
  }

  async startConsumer(): Promise<void> {
    // Loopback only, and this run is about delivery, not credentials: producers connect without one.
    const args = ['start', '--auth', 'none', '--port', '0', ...dbArgs(this.consumerDb), '--entities', ENTITIES_MODULE];
    const consumer = this.#spawn('consumer', 'consumer', args, CONSUMER_ENV);
    const listening = await consumer.waitForMessage('consumer listening', 60_000);
    this.consumer = consumer;
    this.consumerPort = Number(listening.port);
    for (const node of this.sources) node.proxy.retarget(this.consumerPort);
  }

  async killConsumer(): Promise<void> {
    if (this.consumer) await this.#kill(this.consumer);
  }

  async startProducer(node: SourceNode): Promise<void> {
    const url = `ws://127.0.0.1:${node.proxy.port}/oplog`;
    const args = ['start', '--url', url, ...dbArgs(node.db), '--entities', ENTITIES_MODULE];
    const producer = this.#spawn(`producer ${node.label}`, 'producer', args, PRODUCER_ENV);
    const started = await producer.waitForMessage('producer started', 60_000);
    node.sourceId = String(started.sourceId);
    node.producer = producer;
  }

  async killProducer(node: SourceNode, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (node.producer) await this.#kill(node.producer, signal);
  }

  startLoad(node: SourceNode, transactions: number, rate: number, seed: number): void {
    const args = ['load', ...dbArgs(node.db), '--mix', 'full', '--seed', String(seed)];
    args.push('--transactions', String(transactions), '--rate', String(rate));
    const cli = this.#spawn(`load ${node.label}`, 'demo', args, {}, true);
    const run: LoadRun = { seed, transactions, cli };
    void cli
      .waitFor((line) => 'transactions' in line, 24 * 3_600_000)
      .then(
        (line) => {
          run.result = line as unknown as LoadRun['result'];
          run.endedAt = Date.now();
        },
        () => undefined,
      );
    node.loads.push(run);
  }

  /** Stops a load cleanly (SIGTERM: it finishes its transaction and reports); resolves with what it committed. */
  async stopLoad(node: SourceNode): Promise<number> {
    const run = node.load;
    if (!run) return 0;
    await this.#kill(run.cli, 'SIGTERM');
    await sleepUntil(() => run.result !== undefined, 5000);
    return run.result?.transactions ?? 0;
  }

  /** The consumer's view of every source (GET /api/sources); none while it does not answer. */
  async sourceStatuses(): Promise<SourceStatus[]> {
    try {
      const response = await fetch(`http://127.0.0.1:${this.consumerPort}/api/sources`, {
        signal: AbortSignal.timeout(2000),
      });
      return ((await response.json()) as { sources: SourceStatus[] }).sources;
    } catch {
      return [];
    }
  }

  /** Log lines of every process started under `label` (all its incarnations), as pino JSON. */
  logsOf(label: string): LogLine[] {
    return this.processes.filter((p) => p.label.startsWith(label)).flatMap((p) => p.cli.logs);
  }

  /** SIGSTOP / SIGCONT of a running process. */
  signal(cli: CliProcess | undefined, signal: 'SIGSTOP' | 'SIGCONT'): boolean {
    if (!cli || cli.child.exitCode !== null || cli.child.signalCode !== null) return false;
    return cli.child.kill(signal);
  }

  async dispose(): Promise<void> {
    for (const { cli } of this.processes) {
      this.#expectedExit.add(cli);
      this.signal(cli, 'SIGCONT');
      await cli.kill('SIGKILL');
    }
    for (const node of this.sources) {
      await node.proxy.close();
      await node.close();
    }
  }

  async #kill(cli: CliProcess, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    this.#expectedExit.add(cli);
    // A stopped process would not act on SIGTERM until it runs again.
    if (signal !== 'SIGKILL') this.signal(cli, 'SIGCONT');
    await cli.kill(signal);
  }

  #spawn(
    label: string,
    kind: 'consumer' | 'producer' | 'demo',
    args: string[],
    env: Record<string, string>,
    exitsByItself = false,
  ): CliProcess {
    const cli = CliProcess.start(kind, args, env);
    this.processes.push({ label: `${label} #${this.processes.length + 1}`, cli });
    void cli.exited.then((code) => {
      if (this.#expectedExit.has(cli) || (exitsByItself && code === 0)) return;
      this.crashes.push({ label, code, signal: cli.child.signalCode, tail: cli.output.slice(-15).join('\n') });
    });
    return cli;
  }
}

export async function sleepUntil(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return true;
}
