import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { SourceLag } from './source-lag.js';

/**
 * The consumer's Prometheus metrics, in a registry of its own (not prom-client's global one), so two consumers in
 * one process never share counters. Lag gauges are filled at scrape time from the latest lag reading.
 */
export class ConsumerMetrics {
  readonly registry = new Registry();
  readonly #changes: Counter<'source'>;
  readonly #bytes: Counter<'source'>;
  readonly #batches: Counter<'source'>;
  readonly #errors: Counter<'code'>;
  readonly #snapshotRows: Counter<'source'>;
  readonly #applySeconds: Histogram;

  constructor(lags: () => readonly SourceLag[]) {
    const registers = [this.registry];
    // The process's own figures (RSS, heap, event loop delay, GC): what an operator checks first when it lags.
    collectDefaultMetrics({ register: this.registry });
    this.#changes = new Counter({
      name: 'oplog_changes_applied_total',
      help: 'Changes (oplog entries) committed to this database.',
      labelNames: ['source'],
      registers,
    });
    this.#bytes = new Counter({
      name: 'oplog_bytes_applied_total',
      help: 'Bytes of the batch frames whose entries were committed.',
      labelNames: ['source'],
      registers,
    });
    this.#batches = new Counter({
      name: 'oplog_batches_applied_total',
      help: 'Apply transactions committed (a group commit can hold several batch frames).',
      labelNames: ['source'],
      registers,
    });
    this.#errors = new Counter({
      name: 'oplog_errors_total',
      help: 'Errors that ended a producer session, by OPLOG_* code.',
      labelNames: ['code'],
      registers,
    });
    this.#snapshotRows = new Counter({
      name: 'oplog_snapshot_rows_total',
      help: 'Snapshot rows committed to the staging area (a resumed snapshot does not send its committed rows again).',
      labelNames: ['source'],
      registers,
    });
    this.#applySeconds = new Histogram({
      name: 'oplog_apply_duration_seconds',
      help: 'Time to apply and commit one group of entries with its cursor.',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    // A source whose head is unknown has no lag sample at all, rather than a floor that could read 0 (caught up):
    // oplog_source_lag_known says which sources that is.
    const lagSeconds = new Gauge({
      name: 'oplog_lag_seconds',
      help: 'Now minus the commit time of the oldest change not yet applied (0 when caught up; absent when unknown).',
      labelNames: ['source'],
      registers,
      collect() {
        lagSeconds.reset();
        for (const lag of lags()) if (lag.lagKnown) lagSeconds.set({ source: lag.id }, lag.lagMs / 1000);
      },
    });
    const lagChanges = new Gauge({
      name: 'oplog_lag_changes',
      help: "The source's head seq minus the durable cursor seq (absent when the head is unknown).",
      labelNames: ['source'],
      registers,
      collect() {
        lagChanges.reset();
        for (const lag of lags()) if (lag.lagKnown) lagChanges.set({ source: lag.id }, lag.lagChanges);
      },
    });
    const lagKnown = new Gauge({
      name: 'oplog_source_lag_known',
      help: "1 when the source's head is known (a session is open, or a head report is fresh), else 0: no lag sample.",
      labelNames: ['source'],
      registers,
      collect() {
        lagKnown.reset();
        for (const lag of lags()) lagKnown.set({ source: lag.id }, lag.lagKnown ? 1 : 0);
      },
    });
    const connected = new Gauge({
      name: 'oplog_sources_connected',
      help: 'Sources with a live producer session.',
      registers,
      collect() {
        connected.set(lags().filter((lag) => lag.state === 'live' || lag.state === 'catching-up').length);
      },
    });
  }

  /** Counts one committed group; `bytes` is the size of its frames, `seconds` the whole apply-and-commit time. */
  committed(source: string, entries: number, bytes: number, seconds: number): void {
    this.#changes.inc({ source }, entries);
    this.#bytes.inc({ source }, bytes);
    this.#batches.inc({ source });
    this.#applySeconds.observe(seconds);
  }

  snapshotRows(source: string, rows: number): void {
    this.#snapshotRows.inc({ source }, rows);
  }

  error(code: string): void {
    this.#errors.inc({ code });
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
