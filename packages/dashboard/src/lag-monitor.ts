import type { ServerResponse } from 'node:http';
import type { Connection } from '@mikro-orm/core';
import type { SourceStatus, StoredSource } from '@oplog/replay';
import type { Logger } from '@oplog/runtime';
import { pruneLagSamples, saveLagSamples } from './lag-history.js';
import { LagTracker } from './lag-tracker.js';
import type { SourceLag } from './source-lag.js';

export interface LagMonitorOptions {
  /** How often the lag of every source is written to `oplog_lag_sample`. */
  sampleMs: number;
  /** How long samples are kept (at least the hour the dashboard's chart shows). */
  retainMs: number;
  /** How often sources are observed; shorter keeps the lag-in-seconds estimate closer. */
  observeMs?: number;
  /** How often SSE subscribers get every source's lag. */
  pushMs?: number;
}

/** A subscriber that has this much unsent is too slow to follow and is dropped (its EventSource reconnects). */
const MAX_BUFFERED = 4 << 20;

/**
 * Keeps every source's lag current: observes the sources a few times a second, pushes the readings to the
 * dashboard's SSE subscribers once a second (and at once when a source connects or leaves), and writes a sample
 * per source every `sampleMs` so the chart's history survives a restart.
 */
export class LagMonitor {
  #lags: SourceLag[] = [];
  readonly #tracker: LagTracker;
  readonly #clients = new Set<ServerResponse>();
  readonly #timers: NodeJS.Timeout[] = [];
  #sampling: Promise<void> | undefined;
  #nudged = false;

  constructor(
    private readonly statuses: () => SourceStatus[],
    private readonly connection: () => Connection,
    stored: ReadonlyMap<string, StoredSource>,
    private readonly options: LagMonitorOptions,
    private readonly logger: Logger,
  ) {
    this.#tracker = new LagTracker(stored);
  }

  /** The latest reading of every source. */
  get lags(): SourceLag[] {
    return this.#lags;
  }

  start(): void {
    this.observe();
    const every = (ms: number, run: () => void) => this.#timers.push(setInterval(run, ms).unref());
    every(this.options.observeMs ?? 250, () => this.observe());
    every(this.options.pushMs ?? 1000, () => this.#push());
    every(this.options.sampleMs, () => void this.sample());
  }

  /** Stops the timers, ends the SSE streams (an open one would hold the HTTP server open) and awaits a sample. */
  async stop(): Promise<void> {
    for (const timer of this.#timers) clearInterval(timer);
    this.#timers.length = 0;
    for (const client of this.#clients) client.end();
    this.#clients.clear();
    await this.#sampling;
  }

  observe(now = Date.now()): SourceLag[] {
    this.#lags = this.#tracker.observe(this.statuses(), now);
    return this.#lags;
  }

  /** A source connected or left: push at once rather than at the next tick (coalesced per event-loop turn). */
  nudge(): void {
    if (this.#nudged || this.#timers.length === 0) return;
    this.#nudged = true;
    setImmediate(() => {
      this.#nudged = false;
      this.observe();
      this.#push();
    });
  }

  subscribe(res: ServerResponse): void {
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      // Ask proxies such as nginx not to buffer the stream.
      'x-accel-buffering': 'no',
    });
    res.write(`retry: 2000\n${message(this.observe())}`);
    this.#clients.add(res);
    res.on('close', () => this.#clients.delete(res));
  }

  /** Writes one sample per source, then deletes the ones past retention; never throws (logged instead). */
  sample(now = Date.now()): Promise<void> {
    if (this.#sampling) return this.#sampling;
    const rows = this.observe(now).map((lag) => ({
      source: lag.id,
      at: now,
      lagChanges: lag.lagChanges,
      lagMs: Math.round(lag.lagMs),
    }));
    this.#sampling = (async () => {
      const connection = this.connection();
      await saveLagSamples(connection, rows);
      await pruneLagSamples(connection, now - this.options.retainMs);
    })()
      .catch((error: unknown) => this.logger.warn({ err: String(error) }, 'could not record lag samples'))
      .finally(() => (this.#sampling = undefined));
    return this.#sampling;
  }

  #push(): void {
    if (this.#clients.size === 0) return;
    const data = message(this.observe());
    for (const client of this.#clients) {
      if (client.writableLength > MAX_BUFFERED) {
        client.destroy();
        continue;
      }
      client.write(data);
    }
  }
}

function message(lags: readonly SourceLag[]): string {
  return `data: ${JSON.stringify({ now: Date.now(), sources: lags })}\n\n`;
}
