import {
  type Batch,
  decodeProducerFrame,
  encodeFrame,
  errorFrame,
  type Hello,
  negotiateVersion,
  OplogError,
  type ProducerFrame,
} from '@oplog/protocol';
import type { Logger } from '@oplog/runtime';
import type WebSocket from 'ws';
import type { BatchOwner, SourceState } from './source-state.js';

export interface SessionHost {
  /** The state of a source, created on first contact. */
  sourceState(id: string, hello: Hello): SourceState;
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
  lastHeardAt = Date.now();
  readonly #logger: Logger;

  constructor(
    private readonly ws: WebSocket,
    private readonly host: SessionHost,
    /** The source whose credential opened this connection; undefined for an anonymous one (auth: 'none'). */
    private readonly authenticatedSourceId?: string,
  ) {
    this.#logger = host.logger;
    ws.on('message', (data, isBinary) => this.#onMessage(isBinary ? '' : String(data)));
    ws.on('pong', () => (this.lastHeardAt = Date.now()));
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
    this.#logger.warn({ source: this.#source?.id, code: error.code, err: error.message }, 'session refused');
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

  #onMessage(data: string): void {
    this.lastHeardAt = Date.now();
    if (this.#closed) return;
    let frame: ProducerFrame;
    try {
      frame = decodeProducerFrame(data);
      if (!this.#source && frame.type !== 'hello') throw OplogError.helloFirst(frame.type);
    } catch (error) {
      return void this.fail(error as OplogError);
    }
    switch (frame.type) {
      case 'hello':
        return void this.#onHello(frame);
      case 'batch':
        return void this.#onBatch(frame);
      case 'heartbeat':
        this.#source!.head = frame.head;
        this.#source!.lastSeenAt = this.lastHeardAt;
        return;
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
    if (source.cursor.incarnation === hello.incarnation && hello.head.seq < source.cursor.seq) {
      return void this.fail(OplogError.sourceRewound(hello.head.seq, source.cursor.seq));
    }
    if (source.cursor.incarnation !== hello.incarnation) {
      if (source.cursor.incarnation !== null) {
        this.#logger.warn(
          { source: hello.source, from: source.cursor.incarnation, to: hello.incarnation },
          'source has a new incarnation; replaying its log from the start',
        );
      }
      source.cursor = { incarnation: hello.incarnation, seq: 0, epoch: 0 };
    }
    // One live session per source: the newest wins, and the old one is told why before it closes.
    const previous = source.session as ConsumerSession | undefined;
    if (previous && previous !== this) {
      source.forget(previous);
      previous.fail(new OplogError('OPLOG_SESSION_REPLACED', 'a newer session of this source connected'));
    }
    source.session = this;
    source.head = hello.head;
    source.lastSeenAt = Date.now();
    this.#source = source;
    this.#incarnation = hello.incarnation;
    this.#logger.info({ source: source.id, cursor: source.cursor.seq, head: hello.head.seq }, 'source connected');
    this.#send(
      encodeFrame({
        type: 'welcome',
        protocol: version,
        incarnation: source.cursor.incarnation,
        cursor: { seq: source.cursor.seq, epoch: source.cursor.epoch },
      }),
    );
  }

  #onBatch(batch: Batch): void {
    const source = this.#source!;
    const last = batch.entries.at(-1)!;
    if (last.seq > source.head.seq) source.head = { seq: last.seq, epoch: last.epoch };
    source.enqueue(this, batch.id, batch.entries);
  }

  #onClose(): void {
    this.#closed = true;
    const source = this.#source;
    if (source?.session === this) {
      source.session = undefined;
      source.forget(this);
      this.#logger.info({ source: source.id }, 'source disconnected');
    }
  }

  #send(data: string): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.send(data);
  }
}
