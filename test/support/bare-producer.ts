import type { MikroORM } from '@mikro-orm/core';
import { schemaFingerprint } from '@oplog/capture';
import { type Hello, type Json, type OplogEntry, PROTOCOL_VERSION, type Welcome } from '@oplog/protocol';
import WebSocket from 'ws';

/** How a session ended: the close code and reason, and the error frame the consumer sent before, if any. */
export interface Closed {
  code: number;
  reason: string;
  error: { code: string; message: string } | undefined;
}

type Received = { type: string } & Record<string, unknown>;

/**
 * A producer written by hand over a real WebSocket, with a real credential: it sends whatever frames a test gives
 * it, well-formed or not, and records what the consumer answers and how the session ends.
 */
export class BareProducer {
  readonly received: Received[] = [];
  readonly closed: Promise<Closed>;
  #ended = false;

  private constructor(readonly ws: WebSocket) {
    this.closed = new Promise((resolve) =>
      ws.once('close', (code, reason) => {
        this.#ended = true;
        const error = this.received.find((frame) => frame.type === 'error') as Closed['error'];
        resolve({ code, reason: String(reason), error: error && { code: error.code, message: error.message } });
      }),
    );
    ws.on('message', (data, isBinary) => {
      if (!isBinary) this.received.push(JSON.parse(String(data)) as Received);
    });
    ws.on('error', () => {});
  }

  static async connect(port: number, token: string): Promise<BareProducer> {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/oplog`, { headers: { authorization: `Bearer ${token}` } });
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    return new BareProducer(ws);
  }

  get ended(): boolean {
    return this.#ended;
  }

  /** Sends a frame: an object as JSON, a string as it is (text), a Buffer as a binary frame. */
  send(frame: object | string | Buffer): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    if (Buffer.isBuffer(frame)) this.ws.send(frame, { binary: true });
    else this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** The first received frame of `type` not taken yet; undefined when the session ends first. */
  async next(type: string, timeoutMs = 30_000): Promise<Received | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const at = this.received.findIndex((frame) => frame.type === type);
      if (at >= 0) return this.received.splice(at, 1)[0];
      if (this.#ended) return undefined;
      if (Date.now() > deadline) throw new Error(`no ${type} frame within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  /**
   * Says hello and, when the consumer asks for a snapshot, sends one page per entity: its `rows` (keyed by `id`), or
   * none (a source with no rows older than its log). Resolves with the welcome once the session streams, or
   * undefined if the consumer closed it.
   */
  async handshake(hello: Hello, rows: Record<string, Record<string, Json>[]> = {}): Promise<Welcome | undefined> {
    this.send(hello);
    const welcome = (await this.next('welcome')) as unknown as Welcome | undefined;
    if (!welcome?.snapshot) return welcome;
    let id = 0;
    for (const entity of welcome.snapshot.entities) {
      const images = rows[entity] ?? [];
      const last = images.at(-1);
      const after = last ? { id: last.id ?? null } : null;
      const page = { entity, rows: images, after, head: hello.head, remaining: images.length, done: true };
      this.send({ type: 'snapshot', id: ++id, ...page });
      if (!(await this.next('ack'))) return undefined;
    }
    return welcome;
  }

  close(): Promise<Closed> {
    this.ws.close(1000);
    return this.closed;
  }
}

/** The hello of a source whose log holds `head` entries (none trimmed), declaring the consumer's own schema. */
export function helloOf(
  schema: Hello['schema'],
  source: string,
  incarnation: string,
  head = 0,
  protocol = { min: PROTOCOL_VERSION, max: PROTOCOL_VERSION },
): Hello {
  return { type: 'hello', protocol, source, incarnation, head: { seq: head, epoch: 0 }, oldest: head + 1, schema };
}

/** The fingerprint of `entities` as the consumer's ORM declares them: what an honest producer's hello carries. */
export function fingerprintOf(orm: MikroORM, entities: readonly string[]): Hello['schema'] {
  return schemaFingerprint(orm.getMetadata(), (name) => entities.includes(name));
}

/** One source transaction of entries, numbered from `firstSeq`. */
export function transaction(
  source: string,
  incarnation: string,
  firstSeq: number,
  changes: Pick<OplogEntry, 'entity' | 'op' | 'pk' | 'after'>[],
): OplogEntry[] {
  const txId = `tx-${source}-${firstSeq}`;
  return changes.map((change, i) => ({ source, incarnation, seq: firstSeq + i, txId, epoch: Date.now(), ...change }));
}
