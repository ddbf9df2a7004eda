import {
  admitHello,
  type Batch,
  decodeProducerFrame,
  encodeFrame,
  errorFrame,
  fenceNewcomer,
  type Hello,
  OplogError,
  type ProducerFrame,
  type SessionPlan,
} from '@oplog/protocol';
import type { BatchOwner, SourceReplay } from '@oplog/replay';
import type { Logger } from '@oplog/runtime';
import type WebSocket from 'ws';
import { FRAME_TOO_BIG } from './frame-limit.js';

export interface SessionHost {
  /** The state of a source, created on first contact. */
  sourceReplay(id: string, hello: Hello): SourceReplay;
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
  #source: SourceReplay | undefined;
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
    this.#source?.heard(this, this.lastHeardAt);
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
        return void this.#source!.enqueuePage(this, frame.id, frame);
      case 'heartbeat':
        return void this.#source!.reachHead(frame.head, this.lastHeardAt);
      case 'error':
        this.#logger.warn({ source: this.#source?.id, code: frame.code, err: frame.message }, 'producer reported');
        return;
    }
  }

  #onHello(hello: Hello): void {
    const admission = admitHello(hello, {
      helloSeen: this.#source !== undefined,
      credentialSourceId: this.authenticatedSourceId,
    });
    if ('error' in admission) return void this.fail(admission.error);
    const { version } = admission;
    const source = this.host.sourceReplay(hello.source, hello);
    // One live session per source (see fenceNewcomer): a silent one is replaced.
    const previous = source.session as ConsumerSession | undefined;
    const busy = fenceNewcomer(hello.source, previous?.lastHeardAt, Date.now(), this.host.peerTimeoutMs);
    if (busy) {
      source.fenced();
      return void this.fail(busy);
    }
    const refused = this.host.admit(hello);
    if (refused) return void this.fail(refused);
    if (previous) {
      source.forget(previous);
      previous.fail(new OplogError('OPLOG_SESSION_REPLACED', 'a newer session of this source connected'));
    }
    this.#source = source;
    source.attach(this, hello.head, this.lastHeardAt);
    this.#incarnation = hello.incarnation;
    this.#starting = true;
    void this.#start(source, hello, version);
  }

  /** Plans the session (resume, stream, or snapshot first), then welcomes the producer with the durable cursor. */
  async #start(source: SourceReplay, hello: Hello, version: number): Promise<void> {
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
    this.#source!.enqueue(this, batch.id, batch.entries, batch.partial === true, bytes);
  }

  #onClose(): void {
    this.#closed = true;
    const source = this.#source;
    if (source?.detach(this)) this.#logger.info({ source: source.id }, 'source disconnected');
  }

  #send(data: string): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.send(data);
  }
}
