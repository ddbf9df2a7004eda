import { readFile } from 'node:fs/promises';
import type { MikroORM } from '@mikro-orm/core';
import {
  ensureSource,
  OplogCapture,
  renewIncarnation,
  type SourceHead,
  schemaFingerprint,
  uncapturedCascades,
} from '@oplog/capture';
import {
  closeFor,
  type ErrorCode,
  OplogError,
  parseSourceToken,
  type SchemaFingerprint,
  trimPoint,
} from '@oplog/protocol';
import { createLogger, type Logger, type Service } from '@oplog/runtime';
import { type BackoffOptions, backoffDelay } from './backoff.js';
import { openConnection } from './connection.js';
import { type BatchLimits, OutboxReader } from './outbox-reader.js';
import { ProducerSession, type SessionOptions } from './session.js';
import { SnapshotReader } from './snapshot-reader.js';
import { type Wakeup, watchCommits } from './wakeup.js';

export interface ProducerOptions {
  /** The consumer's WebSocket endpoint, e.g. wss://central.example:7420/oplog. */
  url: string;
  /**
   * This source's credential, `<sourceId>.<secret>` (from `oplog-consumer sources add`). Its source id is the
   * source's identity on the wire; without a token, the outbox's own random id is.
   */
  token?: string;
  /** wss: a CA certificate file (PEM) to trust besides the system's. Certificates are always verified. */
  tls?: { ca?: string };
  batch?: Partial<BatchLimits>;
  window?: Partial<SessionOptions['window']>;
  heartbeatMs?: number;
  peerTimeoutMs?: number;
  handshakeTimeoutMs?: number;
  backoff?: Partial<BackoffOptions>;
  /** Acked entries kept in the outbox before they are trimmed (at least 1: the last acked entry always stays). */
  retainAcked?: number;
  /** The fallback poll for new commits; a commit is normally noticed at once (see watchCommits). */
  pollMs?: number;
  /** Largest frame accepted from the consumer. */
  maxPayload?: number;
  /** Which entities replicate, when no OplogCapture is registered on this ORM (the sidecar case). */
  capture?: OplogCapture;
  logger?: Logger;
}

export type ProducerState = 'idle' | 'connecting' | 'streaming' | 'backoff' | 'stopped';

export interface ProducerStatus {
  state: ProducerState;
  sourceId?: string;
  incarnation?: string;
  /** The newest seq in the outbox. */
  headSeq: number;
  /** The consumer's durable cursor, as last heard. */
  ackedSeq: number;
  lastError?: { code: string; message: string; at: number };
  connectedAt?: number;
  /** While the consumer is taking a snapshot of this source: rows sent in this session, and rows left. */
  snapshot?: { sentRows: number; remainingRows: number };
}

const DEFAULTS = {
  batch: { maxEntries: 1000, maxBytes: 1 << 20 },
  window: { frames: 8, bytes: 8 << 20 },
  heartbeatMs: 1000,
  peerTimeoutMs: 10_000,
  handshakeTimeoutMs: 10_000,
  backoff: { initialMs: 100, maxMs: 30_000 },
  retainAcked: 0,
  pollMs: 500,
  maxPayload: 4 << 20,
};

const TRIM_EVERY_MS = 1000;

/**
 * Streams one source database's outbox to a consumer and trims what the consumer has durably applied.
 * Embedded: `createProducer(orm, options)` with the app's own ORM. Sidecar: the same, on an ORM of its own
 * over the same database (apps/producer).
 */
export class Producer implements Service {
  readonly name = 'producer';
  readonly #orm: MikroORM;
  readonly #reader: OutboxReader;
  readonly #snapshots: SnapshotReader;
  readonly #options: typeof DEFAULTS & Pick<ProducerOptions, 'url' | 'token' | 'tls'>;
  readonly #tokenSourceId: string | undefined;
  readonly #schema: SchemaFingerprint;
  readonly #cascadeWarnings: string[];
  readonly #logger: Logger;
  #status: ProducerStatus = { state: 'idle', headSeq: 0, ackedSeq: 0 };
  #session: ProducerSession | undefined;
  #wakeup: Wakeup | undefined;
  #stopped = false;
  #wakeStop = () => {};
  #trimmedUpTo = 0;
  #trimming: Promise<void> | undefined;
  #trimTimer: NodeJS.Timeout | undefined;
  #lastTrimAt = 0;
  #running: Promise<void> | undefined;

  constructor(orm: MikroORM, options: ProducerOptions) {
    this.#orm = orm;
    this.#reader = new OutboxReader(orm.em.getConnection());
    this.#snapshots = new SnapshotReader(orm);
    this.#options = {
      ...DEFAULTS,
      ...options,
      batch: { ...DEFAULTS.batch, ...options.batch },
      window: { ...DEFAULTS.window, ...options.window },
      backoff: { ...DEFAULTS.backoff, ...options.backoff },
    };
    // A malformed token fails here, at start, rather than as a refusal on every connection.
    this.#tokenSourceId = options.token === undefined ? undefined : parseSourceToken(options.token).sourceId;
    if (this.#options.batch.maxBytes >= this.#options.maxPayload) {
      throw new TypeError('batch.maxBytes must be below maxPayload, or a full batch could never be sent');
    }
    const capture = options.capture ?? OplogCapture.registeredOn(orm) ?? new OplogCapture();
    this.#schema = schemaFingerprint(orm.getMetadata(), (name) => capture.replicates(name));
    this.#cascadeWarnings = uncapturedCascades(orm.getMetadata(), (name) => capture.replicates(name));
    this.#logger = (options.logger ?? createLogger()).child({ component: 'producer' });
  }

  status(): ProducerStatus {
    return { ...this.#status };
  }

  run(): Promise<void> {
    this.#running ??= this.#run();
    return this.#running;
  }

  async #run(): Promise<void> {
    await ensureSource(this.#orm.em.getConnection());
    const source = this.#asCredentialed((await this.#reader.head()) as SourceHead);
    const ca = this.#options.tls?.ca === undefined ? undefined : await readFile(this.#options.tls.ca);
    this.#wakeup = await watchCommits(this.#orm, () => this.#session?.wake(), this.#options.pollMs);
    this.#logger.info(
      { sourceId: source.sourceId, incarnation: source.incarnation, url: this.#options.url, wake: this.#wakeup.source },
      'producer started',
    );
    const code: ErrorCode = 'OPLOG_CASCADE_NOT_CAPTURED';
    for (const warning of this.#cascadeWarnings) this.#logger.warn({ code }, warning);
    let attempt = 0;
    while (!this.#stopped) {
      const progressed = await this.#connectOnce(ca);
      if (this.#stopped) break;
      attempt = progressed ? 0 : attempt + 1;
      const delay = backoffDelay(attempt, this.#options.backoff);
      this.#status.state = 'backoff';
      this.#logger.info({ delayMs: delay, attempt }, 'reconnecting after a pause');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay);
        this.#wakeStop = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    await this.#wakeup.close();
    this.#status.state = 'stopped';
  }

  /** One connection; resolves true if the consumer welcomed us, or the source was renewed (so no backoff). */
  async #connectOnce(ca: Buffer | undefined): Promise<boolean> {
    this.#status.state = 'connecting';
    // Read at every connect: the incarnation changes when a rewound history is detected.
    const source = this.#asCredentialed((await this.#reader.head()) as SourceHead);
    Object.assign(this.#status, { sourceId: source.sourceId, incarnation: source.incarnation });
    this.#status.headSeq = Math.max(this.#status.headSeq, source.seq);
    const ws = openConnection({ ...this.#options, ca });
    let welcomed = false;
    const session = new ProducerSession({
      ws,
      reader: this.#reader,
      snapshots: this.#snapshots,
      source,
      schema: this.#schema,
      options: this.#options,
      events: {
        onWelcome: () => {
          welcomed = true;
          this.#status.state = 'streaming';
          this.#status.connectedAt = Date.now();
          this.#logger.info('connected');
        },
        onDurable: (seq) => this.#onDurable(seq),
        onHead: (seq) => {
          this.#status.headSeq = Math.max(this.#status.headSeq, seq);
        },
        onSnapshotPage: (rows, remaining) => {
          const sentRows = (this.#status.snapshot?.sentRows ?? 0) + rows;
          this.#status.snapshot = remaining > 0 ? { sentRows, remainingRows: remaining } : undefined;
        },
      },
      logger: this.#logger,
    });
    this.#session = session;
    try {
      await session.run();
    } catch (error) {
      const failure = error instanceof OplogError ? error : OplogError.internal(error);
      this.#status.lastError = { code: failure.code, message: failure.message, at: Date.now() };
      this.#logger.warn({ code: failure.code, err: failure.message }, 'connection lost');
      if (failure.code === 'OPLOG_SOURCE_REWOUND') {
        const incarnation = await renewIncarnation(this.#orm.em.getConnection());
        this.#logger.warn(
          { from: source.incarnation, to: incarnation },
          "the source's log no longer continues what the consumer applied (restored from a backup?): new incarnation, the consumer will resnapshot",
        );
        return true;
      }
      // The consumer refuses a change until its cause is fixed there: keep backing off, however it was welcomed.
      if (failure.haltsSource) return false;
    } finally {
      this.#session = undefined;
      this.#status.connectedAt = undefined;
      this.#status.snapshot = undefined;
    }
    return welcomed;
  }

  /** With a token, the source is who its credential says: the hello and every entry carry the token's source id. */
  #asCredentialed(source: SourceHead): SourceHead {
    return this.#tokenSourceId === undefined ? source : { ...source, sourceId: this.#tokenSourceId };
  }

  #onDurable(seq: number): void {
    this.#status.ackedSeq = Math.max(this.#status.ackedSeq, seq);
    this.#scheduleTrim();
  }

  /**
   * Trims acked entries off the ack path, at most once a second. A trim that has to wait gets a timer rather than
   * waiting for the next ack, which may never come: the last acks of a burst must leave the outbox too. A failed
   * trim is retried the same way.
   */
  #scheduleTrim(): void {
    if (this.#trimTimer || this.#trimming || this.#stopped) return;
    if (this.#trimPoint() <= this.#trimmedUpTo) return;
    const wait = Math.max(0, this.#lastTrimAt + TRIM_EVERY_MS - Date.now());
    this.#trimTimer = setTimeout(() => {
      this.#trimTimer = undefined;
      this.#trimming = this.#trim().finally(() => {
        this.#trimming = undefined;
        this.#scheduleTrim();
      });
    }, wait);
    this.#trimTimer.unref();
  }

  #trimPoint(): number {
    return trimPoint(this.#status.ackedSeq, this.#options.retainAcked);
  }

  async #trim(): Promise<void> {
    const upTo = this.#trimPoint();
    try {
      await this.#reader.trim(upTo);
      this.#trimmedUpTo = upTo;
    } catch (error) {
      this.#logger.warn({ err: error }, 'trim failed; will retry');
    } finally {
      this.#lastTrimAt = Date.now();
    }
  }

  /** Lets the frames in flight be acked (up to 5 s), then closes. */
  async drain(): Promise<void> {
    this.#stopped = true;
    this.#wakeStop();
    await this.#session?.drain(5000);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#wakeStop();
    const { code, reason } = closeFor('OPLOG_SHUTTING_DOWN', 'producer stopping');
    this.#session?.close(code, reason);
    await this.#running;
    // The app may close the ORM right after: no trim may start or still run by then.
    clearTimeout(this.#trimTimer);
    this.#trimTimer = undefined;
    await this.#trimming;
  }
}

export function createProducer(orm: MikroORM, options: ProducerOptions): Producer {
  return new Producer(orm, options);
}
