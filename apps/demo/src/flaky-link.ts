import { createServer, type Server, Socket } from 'node:net';

export interface FlakyLinkOptions {
  /** Where the link leads (the consumer). */
  target: { host: string; port: number };
  /** Every `everyMs`, what comes back from the target (welcome, acks, pings) is held for `holdMs`, then let through. */
  everyMs: number;
  holdMs: number;
}

/**
 * A TCP relay for the demo that, now and then, holds the consumer's answers for a few seconds, as a congested
 * uplink does. The producer keeps sending heartbeats but its window of unacked batches fills, so the dashboard
 * shows the lag rising and then recovering. Nothing is lost: held data is delivered in order afterwards.
 */
export async function startFlakyLink(options: FlakyLinkOptions): Promise<{ port: number; close(): Promise<void> }> {
  let holding = false;
  const held = new Set<() => void>();
  const sockets = new Set<Socket>();
  const timer = setInterval(() => {
    holding = true;
    setTimeout(() => {
      holding = false;
      for (const release of held) release();
      held.clear();
    }, options.holdMs).unref();
  }, options.everyMs).unref();
  const server: Server = createServer((client) => {
    const upstream = new Socket();
    upstream.connect(options.target.port, options.target.host);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => socket.destroy());
      socket.on('close', () => {
        sockets.delete(socket);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.on('data', (chunk: Buffer) => {
      if (!holding) return void client.write(chunk);
      upstream.pause();
      const release = () => {
        client.write(chunk);
        upstream.resume();
      };
      held.add(release);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    close: async () => {
      clearInterval(timer);
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
