import type { SourceHead } from '@oplog/capture';
import {
  type ConsumerFrame,
  checkWelcome,
  decodeConsumerFrame,
  encodeBatch,
  encodeFrame,
  errorFrame,
  MIN_PROTOCOL_VERSION,
  OplogError,
  type OutgoingFrame,
  PROTOCOL_VERSION,
  type SchemaFingerprint,
  SendWindow,
  type Welcome,
  type WindowLimits,
} from '@oplog/protocol';
import type { Logger } from '@oplog/runtime';
import type WebSocket from 'ws';
import { connectionError, handshakeRefused, handshakeUnanswered } from './connection.js';
import type { BatchLimits, OutboxReader } from './outbox-reader.js';
import { SnapshotPager } from './snapshot-pager.js';
import type { SnapshotReader } from './snapshot-reader.js';

export interface SessionOptions {
  batch: BatchLimits;
  /** At most this many frames, and this many bytes (counting the socket's own buffer), are unacked at once. */
  window: WindowLimits;
  heartbeatMs: number;
  peerTimeoutMs: number;
  handshakeTimeoutMs: number;
}

export interface SessionEvents {
  /** The consumer's durable cursor moved to `seq` (from the welcome or an ack). */
  onDurable(seq: number): void;
  onWelcome(welcome: Welcome): void;
  /** The outbox's head, whenever the session reads it. */
  onHead(seq: number): void;
  /** A snapshot page went out: its rows, and how many are left after it. */
  onSnapshotPage(rows: number, remaining: number): void;
}

/** What one session works with: its socket (not yet open), the source's outbox and identity, limits and listeners. */
export interface SessionDeps {
  ws: WebSocket;
  reader: OutboxReader;
  snapshots: SnapshotReader;
  /** The source as it stood at connect; its sourceId is the one on the wire (the credential's, with a token). */
  source: SourceHead;
  schema: SchemaFingerprint;
  options: SessionOptions;
  events: SessionEvents;
  logger: Logger;
}

/**
 * One connection's life: hello → welcome → batches within the window, acks, heartbeats and pings. An I/O adapter:
 * the wire's rules (the send window and its acks, the welcome checks, the batch encoding) are protocol's; this class
 * turns socket events, timers and outbox reads into calls on them.
 * `run()` settles when the socket closes: it resolves on a clean close and rejects with an OplogError otherwise.
 */
export class ProducerSession {
  readonly #ws: WebSocket;
  readonly #deps: SessionDeps;
  readonly #window: SendWindow;
  #welcomed = false;
  #draining = false;
  #pumping = false;
  #pumpAgain = false;
  /** The last read found nothing after what it sent: the outbox was drained. */
  #caughtUp = false;
  #lastSentAt = 0;
  #lastHeardAt = Date.now();
  #failure: OplogError | undefined;
  #drained?: () => void;
  #snapshot: SnapshotPager | undefined;
  #clearHandshakeTimer = () => {};

  constructor(deps: SessionDeps) {
    this.#ws = deps.ws;
    this.#deps = deps;
    this.#window = new SendWindow(deps.options.window);
  }

  get inflightFrames(): number {
    return this.#window.frames;
  }

  run(): Promise<void> {
    const ws = this.#ws;
    const { options } = this.#deps;
    return new Promise<void>((resolve, reject) => {
      const timers = [
        // Before the upgrade, no consumer was reached; after it, the consumer did not welcome the hello.
        setTimeout(() => {
          const upgraded = ws.readyState !== ws.CONNECTING;
          this.#fail(upgraded ? OplogError.peerTimeout() : handshakeUnanswered(options.handshakeTimeoutMs));
        }, options.handshakeTimeoutMs),
        setInterval(
          () => void this.#tick().catch((error) => this.#fail(OplogError.internal(error))),
          options.heartbeatMs,
        ),
      ];
      ws.on('open', () => void this.#hello().catch((error) => this.#fail(OplogError.internal(error))));
      ws.on('message', (data, isBinary) => this.#onMessage(isBinary ? '' : String(data)));
      ws.on('pong', () => (this.#lastHeardAt = Date.now()));
      ws.on('error', (error) => this.#fail(connectionError(error)));
      ws.on('unexpected-response', (_req, res) => this.#fail(handshakeRefused(res.statusCode)));
      ws.on('close', (code, reason) => {
        for (const timer of timers) clearTimeout(timer);
        this.#drained?.();
        if (this.#failure) reject(this.#failure);
        else if (code === 1000 || this.#draining) resolve();
        else reject(new OplogError('OPLOG_INTERNAL', `connection closed (${code} ${String(reason)})`));
      });
      this.#clearHandshakeTimer = () => clearTimeout(timers[0]);
    });
  }

  /**
   * A commit may have appended to the outbox. While a frame is in flight and the last read drained the outbox, the
   * new commits wait for its ack, which pumps (as Nagle's algorithm holds small segments): a burst of small
   * transactions then shares a frame, a consumer commit and an ack, and an isolated commit still goes at once.
   */
  wake(): void {
    if (this.#caughtUp && this.#window.frames > 0) return;
    if (this.#welcomed && !this.#draining) void this.#pump();
  }

  /**
   * Stops sending, waits (up to `timeoutMs`) for the frames in flight to be acked, then closes: a normal closure,
   * not an error, since the consumer has what was sent.
   */
  async drain(timeoutMs: number): Promise<void> {
    this.#draining = true;
    if (this.#window.frames > 0 && this.#ws.readyState === this.#ws.OPEN) {
      await new Promise<void>((resolve) => {
        this.#drained = resolve;
        setTimeout(resolve, timeoutMs).unref();
      });
    }
    this.close(1000, 'draining');
  }

  close(code: number, reason: string): void {
    if (this.#ws.readyState === this.#ws.CONNECTING) this.#ws.terminate();
    else this.#ws.close(code, reason);
  }

  async #hello(): Promise<void> {
    const { reader, source, schema, events } = this.#deps;
    const head = (await reader.head()) ?? source;
    const oldest = (await reader.oldestSeq()) ?? head.seq + 1;
    const headTxId = head.seq > 0 ? ((await reader.txIdAt(head.seq)) ?? null) : null;
    events.onHead(head.seq);
    this.#send(
      encodeFrame({
        type: 'hello',
        protocol: { min: MIN_PROTOCOL_VERSION, max: PROTOCOL_VERSION },
        source: source.sourceId,
        incarnation: source.incarnation,
        head: { seq: head.seq, epoch: head.epoch },
        headTxId,
        oldest,
        schema,
      }),
    );
  }

  #onMessage(data: string): void {
    this.#lastHeardAt = Date.now();
    let frame: ConsumerFrame;
    try {
      frame = decodeConsumerFrame(data);
    } catch (error) {
      return void this.#fail(error as OplogError, true);
    }
    switch (frame.type) {
      case 'welcome':
        return void this.#onWelcome(frame).catch((error) => this.#fail(OplogError.internal(error)));
      case 'ack':
        return void this.#onAck(frame.id, frame.seq);
      case 'error':
        return void this.#fail(OplogError.fromFrame(frame));
    }
  }

  async #onWelcome(welcome: Welcome): Promise<void> {
    if (this.#welcomed) throw OplogError.badFrame('second welcome');
    this.#clearHandshakeTimer();
    const { reader, snapshots, source, schema, events, logger } = this.#deps;
    const { cursor, snapshot } = welcome;
    const head = (await reader.head()) ?? source;
    const txIdAtCursor = await reader.txIdAt(cursor.seq);
    const oldest = await reader.oldestSeq();
    const refused = checkWelcome(welcome, {
      incarnation: source.incarnation,
      schema,
      headSeq: head.seq,
      txIdAtCursor,
      oldest,
    });
    if (refused) return void this.#fail(refused, true);
    if (snapshot) {
      this.#snapshot = await SnapshotPager.start(snapshots, snapshot);
      const rows = this.#snapshot.remaining;
      logger.info({ entities: snapshot.entities, rows, resumed: snapshot.resume !== null }, 'snapshot requested');
    }
    this.#welcomed = true;
    this.#window.resumeAt(cursor.seq);
    events.onWelcome(welcome);
    events.onDurable(cursor.seq);
    await this.#pump();
  }

  #onAck(id: number, seq: number): void {
    let durable: number;
    try {
      durable = this.#window.ack(id, seq);
    } catch (error) {
      return void this.#fail(error as OplogError, true);
    }
    this.#deps.events.onDurable(durable);
    if (this.#window.frames === 0) this.#drained?.();
    if (!this.#draining) void this.#pump();
  }

  /** Fills the window. One pump at a time; a wake during a pump makes it go round once more. */
  async #pump(): Promise<void> {
    if (this.#pumping) {
      this.#pumpAgain = true;
      return;
    }
    this.#pumping = true;
    try {
      do {
        this.#pumpAgain = false;
        while (this.#hasRoom()) {
          const next = this.#snapshot ? await this.#readPage(this.#snapshot) : await this.#readBatch();
          if (!next || !this.#hasRoom()) break;
          this.#send(this.#window.send(next));
          // Reading again would find only what committed since; the next wake or ack will see it.
          if (this.#caughtUp && !this.#snapshot) break;
        }
      } while (this.#pumpAgain && this.#hasRoom());
    } catch (error) {
      this.#fail(OplogError.internal(error));
    } finally {
      this.#pumping = false;
    }
  }

  async #readBatch(): Promise<OutgoingFrame | undefined> {
    const { reader, source, options, events } = this.#deps;
    const batch = await reader.read(source, this.#window.sentSeq, options.batch);
    this.#caughtUp = !batch?.more;
    if (!batch) return undefined;
    events.onHead(batch.lastSeq);
    const { lastSeq, partial, json } = batch;
    return { lastSeq, partial, encode: (id) => encodeBatch(id, json, partial) };
  }

  /** The next keyset page of the snapshot; after the last one, the log follows from the cursor. */
  async #readPage(snapshot: SnapshotPager): Promise<OutgoingFrame> {
    const page = await snapshot.next(this.#deps.options.batch.maxEntries, this.#window.sentSeq);
    if (snapshot.finished) this.#snapshot = undefined;
    this.#deps.events.onSnapshotPage(page.rows, page.remaining);
    return page.frame;
  }

  #hasRoom(): boolean {
    return (
      this.#welcomed &&
      !this.#draining &&
      this.#ws.readyState === this.#ws.OPEN &&
      this.#window.hasRoom(this.#ws.bufferedAmount)
    );
  }

  /** Every heartbeat period: detect a silent peer, keep the consumer's view of our head fresh when idle. */
  async #tick(): Promise<void> {
    const ws = this.#ws;
    const { reader, options, events } = this.#deps;
    if (ws.readyState !== ws.OPEN) return;
    const now = Date.now();
    if (now - this.#lastHeardAt > options.peerTimeoutMs) return void this.#fail(OplogError.peerTimeout());
    ws.ping();
    if (!this.#welcomed || now - this.#lastSentAt < options.heartbeatMs) return;
    const head = await reader.head();
    if (head) events.onHead(head.seq);
    if (head) this.#send(encodeFrame({ type: 'heartbeat', head: { seq: head.seq, epoch: head.epoch }, at: now }));
    this.wake();
  }

  #send(data: string): void {
    if (this.#ws.readyState !== this.#ws.OPEN) return;
    this.#lastSentAt = Date.now();
    this.#ws.send(data);
  }

  /** Records the first failure, tells the peer when it is a protocol matter, and closes (or kills a dead peer). */
  #fail(error: OplogError, tellPeer = false): void {
    if (this.#failure) return;
    this.#failure = error;
    this.#deps.logger.warn({ code: error.code, err: error.message }, 'session failed');
    const ws = this.#ws;
    if (ws.readyState === ws.OPEN && error.code !== 'OPLOG_PEER_TIMEOUT') {
      if (tellPeer) ws.send(encodeFrame(errorFrame(error.code, error.message)));
      ws.close(error.closeCode, error.closeReason);
      // A peer that never answers the close would hold the socket for ws's 30 s closing timeout.
      setTimeout(() => ws.terminate(), 2000).unref();
    } else {
      ws.terminate();
    }
  }
}
