import {
  type Batch,
  decodeProducerFrame,
  encodeFrame,
  errorFrame,
  type Hello,
  negotiateVersion,
  OplogError,
  type Position,
  type ProducerFrame,
  type SessionPlan,
} from '@oplog/protocol';
import type { Logger } from '@oplog/runtime';
import type WebSocket from 'ws';
import { FRAME_TOO_BIG } from './frame-limit.js';
import { rememberPosition } from './lag.js';
import type { BatchOwner, SourceState } from './source-state.js';

/** Batch starts remembered beyond the cursor: about what a producer's window holds in flight. */
const MAX_RECEIVED = 64;

export interface SessionHost {
  /** The state of a source, created on first contact. */
  sourceState(id: string, hello: Hello): SourceState;
  /** Refuses a hello whose entities or schema the consumer cannot take (see schemaPolicy); else adopts its schema. */
  admit(hello: Hello): OplogError | undefined;
  /** The entities both sides replicate, in apply order. */
  entitiesOf(hello: Hello): string[];
  /** A session heard from within this long is alive: a second session of its source is refused. */
  readonly peerTimeoutMs: number;
  /** Told of every error that ends a session (for the errors-by-code metric). */
  sessionFailed?(code: string): void;
  readonly logger: Logger;
}

/**
 * One producer connection on the consumer: waits for hello, answers with the durable cursor, queues batches
 * for the source's apply loop and acks what that loop committed.
 */
export class ConsumerSession implements BatchOwner {
  #source: SourceState | undefined;
  #incarnation = '';
  #closed = false;
  /** Between a hello and its welcome: the session is being planned. */
  #starting = false;
  lastHeardAt = Date.now();
  readonly #logger: Logger;

  constructor(
    private readonly ws: WebSocket,
    private readonly host: SessionHost,
    /** The source whose credential opened this connection; undefined for an anonymous one (auth: 'none'). */
    private readonly authenticatedSourceId?: string,
  ) {
    this.#logger = host.logger;
    ws.on('message', (data, isBinary) => this.#onMessage(isBinary ? '' : String(data), (data as Buffer).length));
    ws.on('pong', () => this.#heard());
    ws.on(FRAME_TOO_BIG, (error: OplogError) => this.fail(error));
    ws.on('error', (error) => this.#logger.warn({ err: error.message }, 'socket error'));
    ws.on('close', () => this.#onClose());
  }

  get incarnation(): string {
    return this.#incarnation;
  }

  get sourceId(): string | undefined {
    return this.#source?.id;
  }

  ack(frameId: number, seq: number): void {
    this.#send(encodeFrame({ type: 'ack', id: frameId, seq }));
  }

  fail(error: OplogError): void {
    this.host.sessionFailed?.(error.code);
    if (this.#closed) return;
    // The peer gets the message; the cause (a database error, SQL and all) stays in this log.
    const cause = error.cause instanceof Error ? error.cause.message : undefined;
    this.#logger.warn({ source: this.#source?.id, code: error.code, err: error.message, cause }, 'session refused');
    this.#send(encodeFrame(errorFrame(error.code, error.message)));
    this.close(error.closeCode, error.closeReason);
  }

  close(code: number, reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.ws.close(code, reason);
    // A peer that never answers the close would otherwise hold the socket for ws's closing timeout.
    setTimeout(() => this.ws.terminate(), 2000).unref();
  }

  terminate(): void {
    this.#closed = true;
    this.ws.terminate();
  }

  /** Any frame or pong is a sign of life, for the silent-peer sweep and for the source's "last seen". */
  #heard(): void {
    this.lastHeardAt = Date.now();
    if (this.#source?.session === this) this.#source.presence.lastSeenAt = this.lastHeardAt;
  }

  /** The producer told its head as it stands now (hello, heartbeat): see PresenceSnapshot.headHeardAt. */
  #toldHead(source: SourceState, head: Position): void {
    source.head = head;
    source.presence.headHeardAt = this.lastHeardAt;
  }

  #onMessage(data: string, bytes: number): void {
    this.#heard();
    if (this.#closed) return;
    let frame: ProducerFrame;
    try {
      frame = decodeProducerFrame(data);
      if (frame.type !== 'hello' && (!this.#source || this.#starting)) throw OplogError.helloFirst(frame.type);
    } catch (error) {
      return void this.fail(error as OplogError);
    }
    switch (frame.type) {
      case 'hello':
        return void this.#onHello(frame);
      case 'batch':
        return void this.#onBatch(frame, bytes);
      case 'snapshot':
        if (frame.head.seq > this.#source!.head.seq) this.#source!.head = frame.head;
        this.#source!.enqueuePage(this, frame.id, frame);
        return;
      case 'heartbeat':
        return void this.#toldHead(this.#source!, frame.head);
      case 'error':
        this.#logger.warn({ source: this.#source?.id, code: frame.code, err: frame.message }, 'producer reported');
        return;
    }
  }

  #onHello(hello: Hello): void {
    if (this.#source) return void this.fail(OplogError.badFrame('second hello'));
    const version = negotiateVersion(hello.protocol);
    if (version === undefined)
      return void this.fail(OplogError.versionUnsupported(hello.protocol.min, hello.protocol.max));
    if (this.authenticatedSourceId !== undefined && hello.source !== this.authenticatedSourceId) {
      return void this.fail(
        OplogError.unauthorized(`credential is for source ${this.authenticatedSourceId}, hello claims ${hello.source}`),
      );
    }
    const source = this.host.sourceState(hello.source, hello);
    // One live session per source. A newcomer is refused while the current one is alive (two producers with one
    // identity would otherwise take turns, and two different databases would resnapshot each other endlessly);
    // it replaces a session that has gone silent.
    const previous = source.session as ConsumerSession | undefined;
    if (previous && Date.now() - previous.lastHeardAt < this.host.peerTimeoutMs) {
      source.fencedAt = Date.now();
      return void this.fail(OplogError.sourceBusy(hello.source));
    }
    const refused = this.host.admit(hello);
    if (refused) return void this.fail(refused);
    if (previous) {
      source.forget(previous);
      previous.fail(new OplogError('OPLOG_SESSION_REPLACED', 'a newer session of this source connected'));
    }
    source.session = this;
    this.#source = source;
    // A new session resends from the cursor; what the last one received may belong to another history.
    Object.assign(source.presence, { disconnectedAt: undefined, received: [] });
    this.#heard();
    this.#toldHead(source, hello.head);
    this.#incarnation = hello.incarnation;
    this.#starting = true;
    void this.#start(source, hello, version);
  }

  /** Plans the session (resume, stream, or snapshot first), then welcomes the producer with the durable cursor. */
  async #start(source: SourceState, hello: Hello, version: number): Promise<void> {
    let plan: SessionPlan;
    try {
      plan = await source.start(hello, this.host.entitiesOf(hello));
    } catch (error) {
      return void this.fail(error instanceof OplogError ? error : OplogError.internal(error));
    }
    if (this.#closed || source.session !== this) return;
    if (plan.kind === 'refuse') return void this.fail(plan.error);
    this.#starting = false;
    const { cursor } = source;
    const snapshot = plan.kind === 'snapshot' ? plan.request : null;
    if (plan.kind === 'snapshot') {
      this.#logger[plan.reason === 'new-incarnation' || plan.reason === 'history-trimmed' ? 'warn' : 'info'](
        { source: source.id, reason: plan.reason, entities: snapshot!.entities, resumed: !plan.fresh },
        plan.fresh ? 'snapshot started' : 'snapshot resumed',
      );
    }
    this.#logger.info({ source: source.id, cursor: cursor.seq, head: hello.head.seq }, 'source connected');
    this.#send(
      encodeFrame({
        type: 'welcome',
        protocol: version,
        incarnation: cursor.incarnation,
        cursor: { seq: cursor.seq, epoch: cursor.epoch, txId: cursor.txId },
        snapshot,
      }),
    );
  }

  #onBatch(batch: Batch, bytes: number): void {
    const source = this.#source!;
    const [first, last] = [batch.entries[0]!, batch.entries.at(-1)!];
    if (last.seq > source.head.seq) source.head = { seq: last.seq, epoch: last.epoch };
    const { presence } = source;
    presence.received = rememberPosition(presence.received, first, source.cursor.seq, MAX_RECEIVED);
    source.enqueue(this, batch.id, batch.entries, batch.partial === true, bytes);
  }

  #onClose(): void {
    this.#closed = true;
    const source = this.#source;
    if (source?.session === this) {
      source.session = undefined;
      source.presence.disconnectedAt = Date.now();
      source.forget(this);
      this.#logger.info({ source: source.id }, 'source disconnected');
    }
  }

  #send(data: string): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.send(data);
  }
}
