import { OplogError } from './errors.js';

/** At most this many frames, and this many bytes (counting what the socket itself still buffers), are unacked. */
export interface WindowLimits {
  frames: number;
  bytes: number;
}

/** A frame to send: the seq an ack for it must reach, and its text once it has an id. */
export interface OutgoingFrame {
  lastSeq: number;
  /** A part of a transaction that continues in the next frame: its ack carries the durable seq, whatever it is. */
  partial?: boolean;
  encode(id: number): string;
}

interface InFlight {
  id: number;
  lastSeq: number;
  size: number;
  partial: boolean;
}

/**
 * The producer's side of the acknowledged stream, without I/O: which frames are in flight, in order, whether an ack
 * covers the oldest of them, the durable watermark (which only moves forward), and whether there is room for another
 * frame. Frame ids start at 1 and are never reused within a session.
 */
export class SendWindow {
  readonly #limits: WindowLimits;
  readonly #inflight: InFlight[] = [];
  #size = 0;
  #lastId = 0;
  #sentSeq = 0;
  #ackedSeq = 0;

  constructor(limits: WindowLimits) {
    this.#limits = limits;
  }

  /** Frames sent and not acked yet. */
  get frames(): number {
    return this.#inflight.length;
  }

  /** The text length of the frames in flight (their bytes, for ASCII text). */
  get size(): number {
    return this.#size;
  }

  /** The last seq sent: the next read starts after it. */
  get sentSeq(): number {
    return this.#sentSeq;
  }

  /** The consumer's durable cursor, as far as its welcome and acks told. */
  get ackedSeq(): number {
    return this.#ackedSeq;
  }

  /** The stream starts over from the consumer's durable cursor (its welcome): what follows it is sent next. */
  resumeAt(seq: number): void {
    this.#sentSeq = seq;
    this.#ackedSeq = seq;
  }

  /** Whether one more frame may go out while the socket still buffers `buffered` bytes. */
  hasRoom(buffered: number): boolean {
    return this.#inflight.length < this.#limits.frames && this.#size + buffered < this.#limits.bytes;
  }

  /** Gives `frame` the next id and counts it in flight; returns its text, to send as is. */
  send(frame: OutgoingFrame): string {
    const id = ++this.#lastId;
    const text = frame.encode(id);
    this.#inflight.push({ id, lastSeq: frame.lastSeq, size: text.length, partial: frame.partial ?? false });
    this.#size += text.length;
    this.#sentSeq = frame.lastSeq;
    return text;
  }

  /**
   * An ack must name the oldest frame in flight and cover it: the consumer acks what is durable, all of a frame,
   * except a partial one, whose transaction is not complete yet (its ack carries the durable seq, which may not
   * have moved). Returns the durable watermark after it; throws OPLOG_ACK_MISMATCH otherwise.
   */
  ack(id: number, seq: number): number {
    const first = this.#inflight[0];
    if (!first || first.id !== id || !(first.partial || seq >= first.lastSeq)) throw OplogError.ackMismatch(id);
    this.#inflight.shift();
    this.#size -= first.size;
    this.#ackedSeq = Math.max(this.#ackedSeq, seq);
    return this.#ackedSeq;
  }
}
