import { readFile } from 'node:fs/promises';
import { createServer as createHttpServer, type RequestListener, type Server } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';

/** PEM files: the consumer then serves https and wss. */
export interface TlsFiles {
  cert: string;
  key: string;
}

export type EdgeServer = Server | HttpsServer;

/**
 * The consumer's HTTP or HTTPS server. A request, the WebSocket upgrade among them, must arrive whole within
 * `requestTimeoutMs` (and a TLS handshake finish within it): a client that trickles its headers to hold a socket
 * (slowloris) is cut off. Node checks these timeouts only every `connectionsCheckingInterval` (30 s by default),
 * so that runs at the same pace.
 */
export async function createEdgeServer(
  listener: RequestListener,
  options: { tls?: TlsFiles; requestTimeoutMs: number },
): Promise<EdgeServer> {
  const { tls, requestTimeoutMs } = options;
  const timeouts = {
    headersTimeout: requestTimeoutMs,
    requestTimeout: requestTimeoutMs,
    connectionsCheckingInterval: Math.min(1000, requestTimeoutMs),
  };
  if (!tls) return createHttpServer(timeouts, listener);
  const [cert, key] = await Promise.all([readFile(tls.cert), readFile(tls.key)]);
  return createHttpsServer({ ...timeouts, handshakeTimeout: requestTimeoutMs, cert, key }, listener);
}
