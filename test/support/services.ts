import { createConnection } from 'node:net';

export const PG_URL = process.env.OPLOG_TEST_PG_URL ?? 'postgresql://postgres@127.0.0.1:5432';

/** Resolves true when something accepts TCP connections on the PostgreSQL port. */
export function postgresReachable(timeoutMs = 1000): Promise<boolean> {
  const { hostname, port } = new URL(PG_URL);
  return new Promise((resolve) => {
    const socket = createConnection({ host: hostname, port: Number(port || 5432) });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}
