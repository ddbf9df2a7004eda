import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy on 127.0.0.1 for fault injection: it passes bytes, and on command cuts every connection (optionally
 * after only part of the next chunk, i.e. mid-frame), stalls (stops forwarding without closing), or refuses new ones.
 */
export class TcpProxy {
  #server: Server;
  #pairs = new Set<[Socket, Socket]>();
  #stalled = false;
  #refusing = false;
  #cutMidChunk: (() => void) | undefined;
  /** While holding: what each client sent, not forwarded yet. */
  #held: Map<Socket, Buffer[]> | undefined;
  port = 0;

  private constructor(private target: { host: string; port: number }) {
    this.#server = createServer((client) => this.#accept(client));
  }

  static async start(targetPort: number, host = '127.0.0.1'): Promise<TcpProxy> {
    const proxy = new TcpProxy({ host, port: targetPort });
    await new Promise<void>((resolve) => proxy.#server.listen(0, '127.0.0.1', resolve));
    proxy.port = (proxy.#server.address() as { port: number }).port;
    return proxy;
  }

  get connections(): number {
    return this.#pairs.size;
  }

  /** Sends new connections to another port from now on (a restarted server that bound a new one). */
  retarget(port: number): void {
    this.target = { ...this.target, port };
  }

  /** Destroys every open connection now. */
  cut(): void {
    for (const [a, b] of this.#pairs) {
      a.destroy();
      b.destroy();
    }
    this.#pairs.clear();
  }

  /**
   * Forwards half of the next chunk that passes, then destroys the connection: a frame cut in the middle.
   * Resolves once that happened (a quiet connection may make it wait); `disarm()` calls it off.
   */
  cutMidFrame(): Promise<void> {
    return new Promise((resolve) => (this.#cutMidChunk = resolve));
  }

  /** Calls off a cutMidFrame that has not happened yet; false if it had. */
  disarm(): boolean {
    const armed = this.#cutMidChunk !== undefined;
    this.#cutMidChunk = undefined;
    return armed;
  }

  /** Stops forwarding in both directions, without closing anything (a frozen network path). */
  stall(on = true): void {
    this.#stalled = on;
    for (const [a, b] of this.#pairs) for (const s of [a, b]) on ? s.pause() : s.resume();
  }

  /**
   * Holds what clients send while on; off forwards each client's held bytes in one write, so frames sent one by one
   * reach the target together and are read in as few chunks as it can.
   */
  hold(on = true): void {
    const held = this.#held;
    this.#held = on ? (held ?? new Map()) : undefined;
    if (on || !held) return;
    for (const [client, upstream] of this.#pairs) {
      const chunks = held.get(client);
      if (chunks) upstream.write(Buffer.concat(chunks));
    }
  }

  /** Bytes held so far (see hold). */
  get heldBytes(): number {
    let bytes = 0;
    for (const chunks of this.#held?.values() ?? []) for (const chunk of chunks) bytes += chunk.length;
    return bytes;
  }

  /** Refuses (destroys) new connections while on: the consumer looks offline. */
  refuse(on = true): void {
    this.#refusing = on;
    if (on) this.cut();
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(client: Socket): void {
    if (this.#refusing) return void client.destroy();
    const upstream = connect(this.target.port, this.target.host);
    const pair: [Socket, Socket] = [client, upstream];
    this.#pairs.add(pair);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      this.#pairs.delete(pair);
    };
    for (const [from, to] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      from.on('data', (chunk: Buffer) => {
        if (this.#held && from === client) {
          const chunks = this.#held.get(client) ?? [];
          this.#held.set(client, chunks);
          chunks.push(chunk);
          return;
        }
        const cutting = this.#cutMidChunk;
        if (cutting && chunk.length > 1) {
          this.#cutMidChunk = undefined;
          to.write(chunk.subarray(0, chunk.length >> 1), () => {
            drop();
            cutting();
          });
          return;
        }
        to.write(chunk);
      });
      from.on('error', drop);
      from.on('close', drop);
    }
    if (this.#stalled) for (const s of pair) s.pause();
  }
}
