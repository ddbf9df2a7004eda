import type { SourceHead } from '@oplog/capture';
import {
  type ConsumerFrame,
  continuesCursor,
  decodeConsumerFrame,
  encodeFrame,
  errorFrame,
  type Json,
  MIN_PROTOCOL_VERSION,
  OplogError,
  PROTOCOL_VERSION,
  type SchemaFingerprint,
  type Welcome,
} from '@oplog/protocol';
import type { Logger } from '@oplog/runtime';
import type WebSocket from 'ws';
import { connectionError, handshakeRefused } from './connection.js';
import type { BatchLimits, OutboxReader } from './outbox-reader.js';
import type { SnapshotReader } from './snapshot-reader.js';

export interface SessionOptions {
  batch: BatchLimits;
  /** At most this many frames, and this many bytes (counting the socket's own buffer), are unacked at once. */
  window: { frames: number; bytes: number };
  heartbeatMs: number;
  peerTimeoutMs: number;
  handshakeTimeoutMs: number;
}

interface InFlight {
  id: number;
  lastSeq: number;
  bytes: number;
  /** A part of a transaction that continues in the next frame: its ack carries the durable seq, whatever it is. */
  partial: boolean;
}

/** The next frame to send: the seq an ack for it must reach, and its text once it has an id. */
interface Outgoing {
  lastSeq: number;
  partial?: boolean;
  encode(id: number): string;
}

/** A snapshot the consumer asked for, as far as this session has read it. */
interface SnapshotCursor {
  entities: string[];
  index: number;
  after: Record<string, Json> | null;
  remaining: number;
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

/**
 * One connection's life: hello → welcome → batches within the window, acks, heartbeats and pings.
 * `run()` settles when the socket closes: it resolves on a clean close and rejects with an OplogError otherwise.
 */
export class ProducerSession {
  #inflight: InFlight[] = [];
  #inflightBytes = 0;
  #frameId = 0;
  #sentSeq = 0;
  #ackedSeq = 0;
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
  #snapshot: SnapshotCursor | undefined;

  constructor(
    private readonly ws: WebSocket,
    private readonly reader: OutboxReader,
    private readonly snapshots: SnapshotReader,
    private readonly source: SourceHead,
    private readonly schema: SchemaFingerprint,
    private readonly options: SessionOptions,
    private readonly events: SessionEvents,
    private readonly logger: Logger,
  ) {}

  get inflightFrames(): number {
    return this.#inflight.length;
  }

  run(): Promise<void> {
    const { ws } = this;
    return new Promise<void>((resolve, reject) => {
      const timers = [
        setTimeout(() => this.#fail(OplogError.peerTimeout()), this.options.handshakeTimeoutMs),
        setInterval(
          () => void this.#tick().catch((error) => this.#fail(OplogError.internal(error))),
          this.options.heartbeatMs,
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
    if (this.#caughtUp && this.#inflight.length > 0) return;
    if (this.#welcomed && !this.#draining) void this.#pump();
  }

  /** Stops sending, waits (up to `timeoutMs`) for the frames in flight to be acked, then closes. */
  async drain(timeoutMs: number): Promise<void> {
    this.#draining = true;
    if (this.#inflight.length > 0 && this.ws.readyState === this.ws.OPEN) {
      await new Promise<void>((resolve) => {
        this.#drained = resolve;
        setTimeout(resolve, timeoutMs).unref();
      });
    }
    this.close(1000, 'draining');
  }

  close(code: number, reason: string): void {
    if (this.ws.readyState === this.ws.CONNECTING) this.ws.terminate();
    else this.ws.close(code, reason);
  }

  #clearHandshakeTimer = () => {};

  async #hello(): Promise<void> {
    const head = (await this.reader.head()) ?? this.source;
    const oldest = (await this.reader.oldestSeq()) ?? head.seq + 1;
    const headTxId = head.seq > 0 ? ((await this.reader.txIdAt(head.seq)) ?? null) : null;
    this.events.onHead(head.seq);
    this.#send(
      encodeFrame({
        type: 'hello',
        protocol: { min: MIN_PROTOCOL_VERSION, max: PROTOCOL_VERSION },
        source: this.source.sourceId,
        incarnation: this.source.incarnation,
        head: { seq: head.seq, epoch: head.epoch },
        headTxId,
        oldest,
        schema: this.schema,
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
    const { cursor, snapshot } = welcome;
    // Also before a snapshot: a resumed one continues from a cursor (and pages) of the history it began on.
    if (welcome.incarnation === this.source.incarnation) {
      const head = (await this.reader.head()) ?? this.source;
      if (!continuesCursor(cursor, head, await this.reader.txIdAt(cursor.seq))) {
        return void this.#fail(OplogError.sourceDiverged(cursor.seq), true);
      }
    }
    if (snapshot) {
      const unknown = snapshot.entities.find((entity) => !Object.hasOwn(this.schema, entity));
      if (unknown) return void this.#fail(OplogError.unknownEntity(unknown), true);
      const after = snapshot.resume?.after ?? null;
      const remaining = await this.snapshots.count(snapshot.entities, after);
      this.#snapshot = { entities: [...snapshot.entities], index: 0, after, remaining };
      this.logger.info({ entities: snapshot.entities, rows: remaining, resumed: after !== null }, 'snapshot requested');
    } else if (welcome.incarnation === this.source.incarnation) {
      const oldest = await this.reader.oldestSeq();
      if (oldest !== undefined && cursor.seq + 1 < oldest) {
        return void this.#fail(OplogError.historyTrimmed(cursor.seq, oldest), true);
      }
    }
    this.#welcomed = true;
    this.#sentSeq = this.#ackedSeq = cursor.seq;
    this.events.onWelcome(welcome);
    this.events.onDurable(cursor.seq);
    await this.#pump();
  }

  #onAck(id: number, seq: number): void {
    const first = this.#inflight[0];
    // The consumer acks what is durable: all of a frame, except a partial one, whose transaction is not complete yet.
    const covers = first && (first.partial || seq >= first.lastSeq);
    if (!first || first.id !== id || !covers) return void this.#fail(OplogError.ackMismatch(id), true);
    this.#inflight.shift();
    this.#inflightBytes -= first.bytes;
    this.#ackedSeq = Math.max(this.#ackedSeq, seq);
    this.events.onDurable(this.#ackedSeq);
    if (this.#inflight.length === 0) this.#drained?.();
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
          const id = ++this.#frameId;
          const data = next.encode(id);
          this.#inflight.push({ id, lastSeq: next.lastSeq, bytes: data.length, partial: next.partial ?? false });
          this.#inflightBytes += data.length;
          this.#sentSeq = next.lastSeq;
          this.#send(data);
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

  async #readBatch(): Promise<Outgoing | undefined> {
    const batch = await this.reader.read(this.source, this.#sentSeq, this.options.batch);
    this.#caughtUp = !batch?.more;
    if (!batch) return undefined;
    this.events.onHead(batch.lastSeq);
    const { lastSeq, partial, json } = batch;
    const tail = partial ? ',"partial":true}' : '}';
    return { lastSeq, partial, encode: (id) => `{"type":"batch","id":${id},"entries":${json}${tail}` };
  }

  /** The next keyset page of the snapshot; after the last one, the log follows from the cursor. */
  async #readPage(snapshot: SnapshotCursor): Promise<Outgoing> {
    const entity = snapshot.entities[snapshot.index]!;
    const limit = this.options.batch.maxEntries;
    const page = await this.snapshots.page(entity, snapshot.after, limit);
    const done = page.rows.length < limit;
    const remaining = Math.max(snapshot.remaining, page.rows.length);
    snapshot.remaining = remaining - page.rows.length;
    snapshot.after = done ? null : page.after;
    if (done && ++snapshot.index === snapshot.entities.length) this.#snapshot = undefined;
    this.events.onSnapshotPage(page.rows.length, snapshot.remaining);
    const head = { seq: page.head.seq, epoch: page.head.epoch };
    const { rows, after } = page;
    return {
      lastSeq: this.#sentSeq,
      encode: (id) => encodeFrame({ type: 'snapshot', id, entity, rows, after, head, remaining, done }),
    };
  }

  #hasRoom(): boolean {
    const { frames, bytes } = this.options.window;
    return (
      this.#welcomed &&
      !this.#draining &&
      this.ws.readyState === this.ws.OPEN &&
      this.#inflight.length < frames &&
      this.#inflightBytes + this.ws.bufferedAmount < bytes
    );
  }

  /** Every heartbeat period: detect a silent peer, keep the consumer's view of our head fresh when idle. */
  async #tick(): Promise<void> {
    if (this.ws.readyState !== this.ws.OPEN) return;
    const now = Date.now();
    if (now - this.#lastHeardAt > this.options.peerTimeoutMs) return void this.#fail(OplogError.peerTimeout());
    this.ws.ping();
    if (!this.#welcomed || now - this.#lastSentAt < this.options.heartbeatMs) return;
    const head = await this.reader.head();
    if (head) this.events.onHead(head.seq);
    if (head) this.#send(encodeFrame({ type: 'heartbeat', head: { seq: head.seq, epoch: head.epoch }, at: now }));
    this.wake();
  }

  #send(data: string): void {
    if (this.ws.readyState !== this.ws.OPEN) return;
    this.#lastSentAt = Date.now();
    this.ws.send(data);
  }

  /** Records the first failure, tells the peer when it is a protocol matter, and closes (or kills a dead peer). */
  #fail(error: OplogError, tellPeer = false): void {
    if (this.#failure) return;
    this.#failure = error;
    this.logger.warn({ code: error.code, err: error.message }, 'session failed');
    if (this.ws.readyState === this.ws.OPEN && error.code !== 'OPLOG_PEER_TIMEOUT') {
      if (tellPeer) this.ws.send(encodeFrame(errorFrame(error.code, error.message)));
      this.ws.close(error.closeCode, error.closeReason);
      // A peer that never answers the close would hold the socket for ws's 30 s closing timeout.
      setTimeout(() => this.ws.terminate(), 2000).unref();
    } else {
      this.ws.terminate();
    }
  }
}
