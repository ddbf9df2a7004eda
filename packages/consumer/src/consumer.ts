import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { MikroORM } from '@mikro-orm/core';
import {
  ConsumerMetrics,
  checkDashboardAccess,
  createHttpHandler,
  type DashboardAssets,
  isLoopback,
  LagMonitor,
  loadDashboard,
  loadLagHistory,
} from '@oplog/dashboard';
import { closeFor, type HeadReport, type Hello, type OplogError } from '@oplog/protocol';
import {
  CenterLockKeeper,
  createApplier,
  DatabaseSourceStore,
  loadSources,
  NO_RECORD,
  SchemaAdmission,
  SourceReplay,
  type SourceStatus,
  type Step,
  type StoredSource,
  statusOf,
  useSqliteWal,
} from '@oplog/replay';
import { createLogger, type Logger, type Service } from '@oplog/runtime';
import { CONSUMER_DEFAULTS, type ConsumerOptions } from './consumer-options.js';
import { CredentialStore } from './credential-store.js';
import { createEdgeServer, type EdgeServer } from './edge-server.js';
import { receiveHeadReport, takeHeadReport } from './head-report.js';
import { SessionGate, type SessionGateHost } from './session-gate.js';
import { bookkeepingEntities } from './tables.js';
import { authenticateUpgrade, checkAuthMode } from './upgrade-auth.js';

/** /healthz fails when an apply transaction has been running this long: the apply loop makes no progress. */
const STALLED_APPLY_MS = 30_000;

/**
 * The central side: accepts producer sessions over WebSocket, replays their batches into its own database
 * (data and cursor in one transaction) and acks only after the commit.
 */
export class Consumer implements Service, SessionGateHost {
  readonly name = 'consumer';
  readonly logger: Logger;
  readonly #orm: MikroORM;
  readonly #options: typeof CONSUMER_DEFAULTS & ConsumerOptions;
  readonly #store: DatabaseSourceStore;
  readonly #admission: SchemaAdmission;
  readonly #sources = new Map<string, SourceReplay>();
  #stored = new Map<string, StoredSource>();
  readonly #credentials: CredentialStore;
  readonly #gate: SessionGate;
  #server: EdgeServer | undefined;
  #accepting = false;
  #closed: Promise<void> | undefined;
  #resolveClosed = () => {};
  readonly #centerLock: CenterLockKeeper;
  readonly metrics: ConsumerMetrics;
  #monitor: LagMonitor | undefined;
  #assets: Promise<DashboardAssets> | undefined;
  /** source → when its apply transaction began, while one runs. */
  readonly #applying = new Map<string, number>();
  readonly #http: (req: IncomingMessage, res: ServerResponse) => void;

  constructor(orm: MikroORM, options: ConsumerOptions = {}) {
    this.#orm = orm;
    this.#options = { ...CONSUMER_DEFAULTS, ...options };
    checkDashboardAccess(this.#options.host, options.dashboard);
    checkAuthMode(this.#options.host, this.#options.auth);
    if (options.maxEntriesPerSecond !== undefined && !(options.maxEntriesPerSecond > 0)) {
      throw new TypeError('maxEntriesPerSecond must be positive');
    }
    // Read fresh at each scrape, so the lag gauges agree with the cursor rows just committed.
    this.metrics = new ConsumerMetrics(() => this.#monitor?.observe() ?? []);
    const applier = createApplier(orm, {
      entities: options.entities,
      shared: options.sharedEntities,
      internal: bookkeepingEntities,
    });
    this.logger = (options.logger ?? createLogger()).child({ component: 'consumer' });
    this.#admission = new SchemaAdmission(applier, this.#options.schemaPolicy, this.logger);
    this.#store = new DatabaseSourceStore(orm, applier, (source) => this.#admission.contextOf(source));
    this.#centerLock = new CenterLockKeeper(orm, this.#options.lockCheckMs, (error) => this.#onLockLost(error));
    this.#http = this.#createHttpHandler();
    this.#credentials = new CredentialStore(() => this.#orm.em.getConnection('write'));
    this.#gate = new SessionGate(this, this.#credentials, this.#options, this.logger);
  }

  /** Listens, then resolves when the consumer has stopped. */
  async run(): Promise<void> {
    await this.listen();
    await this.#closed;
    if (this.#centerLock.lost) throw this.#centerLock.lost;
  }

  /**
   * Takes the center lock (else rejects with OPLOG_CENTER_LOCKED), loads the cursors and starts listening; resolves
   * once the port is bound.
   */
  async listen(): Promise<AddressInfo> {
    if (this.#server) return this.address();
    await this.#centerLock.take();
    try {
      return await this.#listen();
    } catch (error) {
      await this.#centerLock.release();
      throw error;
    }
  }

  async #listen(): Promise<AddressInfo> {
    if (this.#options.sqliteWal) await useSqliteWal(this.#orm, this.logger);
    this.#stored = await loadSources(this.#orm.em.getConnection());
    this.#closed = new Promise((resolve) => (this.#resolveClosed = resolve));
    this.#monitor = new LagMonitor(
      () => this.sources(),
      () => this.#orm.em.getConnection('write'),
      this.#stored,
      { sampleMs: this.#options.lagSampleMs, retainMs: this.#options.lagRetentionMs },
      this.logger,
    );
    // Built in the background: replication must not wait for (or fail with) the page.
    this.#assets = loadDashboard();
    this.#assets.catch((error: unknown) => this.logger.error({ err: String(error) }, 'dashboard page missing'));
    const { tls, requestTimeoutMs, path } = this.#options;
    // A plain request on the WebSocket path (a proxy that dropped the Upgrade header) gets 426, not the dashboard's 401.
    this.#server = await createEdgeServer(
      (req, res) => this.#gate.answerPlainRequest(req, res) || this.#http(req, res),
      {
        tls,
        requestTimeoutMs,
      },
    );
    this.#server.on('upgrade', (req, socket, head) => this.#gate.upgrade(req, socket, head));
    await new Promise<void>((resolve, reject) => {
      this.#server!.once('error', reject);
      this.#server!.listen(this.#options.port, this.#options.host, resolve);
    });
    this.#accepting = true;
    this.#gate.start();
    this.#monitor.start();
    const address = this.address();
    this.logger.info({ host: address.address, port: address.port, path, tls: !!tls }, 'consumer listening');
    if (!tls && !isLoopback(this.#options.host)) {
      this.logger.warn('listening beyond loopback without TLS: source credentials and data cross the network in clear');
    }
    return address;
  }

  address(): AddressInfo {
    return this.#server!.address() as AddressInfo;
  }

  sources(): SourceStatus[] {
    return [...this.#sources.values()].map((s) => statusOf(s, this.#admission.differencesOf(s.id)));
  }

  sourceReplay(id: string, hello: Hello): SourceReplay {
    let state = this.#sources.get(id);
    if (!state) {
      const stored = this.#stored.get(id) ?? { ...NO_RECORD, head: hello.head };
      const { maxBatchEntries, maxEntriesPerSecond } = this.#options;
      state = new SourceReplay(
        id,
        stored,
        {
          load: (source) => this.#centerLock.whileLocked(() => this.#store.load(source)),
          restart: (step) => this.#centerLock.whileLocked(() => this.#store.restart(step)),
          commit: (step) => this.#centerLock.whileLocked(() => this.#commit(step)),
          quarantine: (step, error) => this.#centerLock.whileLocked(() => this.#store.quarantine(step, error)),
        },
        { maxBatchEntries, maxEntriesPerSecond, poison: this.#options.poison },
      );
      this.#sources.set(id, state);
    }
    // The hello handler sets the new head right after this: push the connected state (and its lag) at once.
    this.#monitor?.nudge();
    return state;
  }

  get peerTimeoutMs(): number {
    return this.#options.peerTimeoutMs;
  }

  admit(hello: Hello): OplogError | undefined {
    return this.#admission.admit(hello);
  }

  entitiesOf(hello: Hello): string[] {
    return this.#admission.entitiesOf(hello);
  }

  /** Stops accepting sessions and lets every batch in flight commit and be acked. */
  async drain(): Promise<void> {
    this.#accepting = false;
    await Promise.all([...this.#sources.values()].map((s) => s.idle()));
  }

  async stop(): Promise<void> {
    this.#accepting = false;
    this.#gate.close(closeFor('OPLOG_SHUTTING_DOWN', 'consumer stopping'));
    await Promise.all([...this.#sources.values()].map((s) => s.idle()));
    await this.#monitor?.stop();
    await new Promise<void>((resolve) => (this.#server ? this.#server.close(() => resolve()) : resolve()));
    this.#server?.closeAllConnections();
    await this.#centerLock.release();
    this.#resolveClosed();
  }

  #onLockLost(error: OplogError): void {
    this.logger.error({ code: error.code, err: error.message }, 'center lock lost: applying nothing more, stopping');
    void this.stop();
  }

  async #commit(step: Step): ReturnType<DatabaseSourceStore['commit']> {
    const started = performance.now();
    this.#applying.set(step.source, Date.now());
    try {
      const outcome = await this.#store.commit(step);
      if (step.page) this.metrics.snapshotRows(step.source, step.page.rows.length);
      if (step.entries.length > 0) {
        const applied = step.entries.length + (step.staged?.count ?? 0);
        this.metrics.committed(step.source, applied, step.bytes, (performance.now() - started) / 1000);
        this.#options.onApplied?.(step.source, step.cursor);
      }
      return outcome;
    } finally {
      this.#applying.delete(step.source);
    }
  }

  /** Counts an error that ended a session (SessionHost). */
  sessionFailed(code: string): void {
    this.metrics.error(code);
  }

  get accepting(): boolean {
    return this.#accepting;
  }

  sessionClosed(): void {
    this.#monitor?.nudge();
  }

  #createHttpHandler(): (req: IncomingMessage, res: ServerResponse) => void {
    const connection = () => this.#orm.em.getConnection('write');
    return createHttpHandler({
      accepting: () => this.#accepting,
      stalled: () => {
        const now = Date.now();
        return [...this.#applying].filter(([, since]) => now - since > STALLED_APPLY_MS).map(([source]) => source);
      },
      databaseReachable: () =>
        connection()
          .execute('select 1')
          .then(
            () => true,
            () => false,
          ),
      sources: () => this.sources(),
      lags: () => this.#monitor?.observe() ?? [],
      history: (since, source) => loadLagHistory(connection(), since, source),
      subscribe: (res) => this.#monitor!.subscribe(res),
      metrics: this.metrics,
      assets: () => this.#assets ?? Promise.reject(new Error('not listening')),
      token: this.#options.dashboard?.token,
      logger: this.logger,
      reportHead: (req) =>
        receiveHeadReport(
          req,
          (r) => authenticateUpgrade(r, this.#credentials, this.#options.auth),
          (report) => this.#headReported(report),
        ),
    });
  }

  /** A local app's head, heard while its producer may be down: the lag in changes keeps counting. */
  #headReported(report: HeadReport): boolean {
    const moved = takeHeadReport(this.#sources.get(report.source), report);
    if (moved) this.#monitor?.nudge();
    return moved !== undefined;
  }
}

export function createConsumer(orm: MikroORM, options?: ConsumerOptions): Consumer {
  return new Consumer(orm, options);
}
