import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { closeFor, type ErrorCode, OplogError } from '@oplog/protocol';
import type { Logger } from '@oplog/runtime';
import { WebSocketServer } from 'ws';
import type { CredentialStore, VerifiedCredential } from './credential-store.js';
import { CredentialWatch } from './credential-watch.js';
import { frameLimitedSocket } from './frame-limit.js';
import { ConsumerSession, type SessionHost } from './session.js';
import { type AuthMode, authenticateUpgrade } from './upgrade-auth.js';

export interface SessionGateOptions {
  path: string;
  auth: AuthMode;
  maxConnections: number;
  maxPayload: number;
  helloTimeoutMs: number;
  peerTimeoutMs: number;
  credentialCheckMs: number;
}

export interface SessionGateHost extends SessionHost {
  /** False while the consumer is stopping or not listening yet: upgrades get 503. */
  readonly accepting: boolean;
  /** A session closed (the lag view changes at once). */
  sessionClosed(): void;
}

/**
 * The consumer's door for producers: refuses before any WebSocket exists (a wrong path, a consumer that is stopping
 * or full, and every request without a valid source credential), opens a session for the rest, closes one whose
 * credential is revoked or that sends no hello in time, and cuts off peers gone silent.
 */
export class SessionGate {
  readonly #sessions = new Set<ConsumerSession>();
  readonly #wss: WebSocketServer;
  readonly #watch: CredentialWatch<ConsumerSession>;
  #sweep: NodeJS.Timeout | undefined;

  constructor(
    private readonly host: SessionGateHost,
    private readonly credentials: CredentialStore,
    private readonly options: SessionGateOptions,
    private readonly logger: Logger,
  ) {
    const { maxPayload } = options;
    this.#wss = new WebSocketServer({
      noServer: true,
      maxPayload,
      perMessageDeflate: false,
      WebSocket: frameLimitedSocket(maxPayload),
    });
    this.#watch = new CredentialWatch(
      credentials,
      options.credentialCheckMs,
      (session, { sourceId }) => session.fail(OplogError.credentialRevoked(sourceId)),
      logger,
    );
  }

  start(): void {
    this.#sweep = setInterval(() => this.#sweepSilentPeers(), Math.min(1000, this.options.peerTimeoutMs / 2));
    this.#watch.start();
  }

  /** Closes every session (their producers come back later) and stops taking new ones. */
  close({ code, reason }: { code: number; reason: string }): void {
    clearInterval(this.#sweep);
    this.#watch.stop();
    for (const session of this.#sessions) session.close(code, reason);
    this.#wss.close();
  }

  /**
   * Answers a plain HTTP request (no upgrade) on the WebSocket path with 426 Upgrade Required and a line saying what
   * is expected: a proxy in front that drops the Upgrade header shows up this way, and the producer names that cause.
   * Returns whether it answered; the HTTP server's other routes take the rest.
   */
  answerPlainRequest(req: IncomingMessage, res: ServerResponse): boolean {
    if (!this.#onPath(req)) return false;
    res.writeHead(426, { upgrade: 'websocket', connection: 'Upgrade', 'content-type': 'text/plain; charset=utf-8' });
    res.end(
      `${this.options.path} expects a WebSocket upgrade (a producer's connection); a proxy in front must forward the Upgrade and Connection headers\n`,
    );
    return true;
  }

  /** The HTTP server's `upgrade` event. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    // Node hands the socket over without an error listener; one must be there while the credential is read.
    const onError = () => socket.destroy();
    socket.on('error', onError);
    const refuse = (status: number, text: string) => {
      socket.once('finish', () => socket.destroy());
      const challenge = status === 401 ? 'WWW-Authenticate: Bearer\r\n' : '';
      socket.end(`HTTP/1.1 ${status} ${text}\r\n${challenge}Connection: close\r\nContent-Length: 0\r\n\r\n`);
    };
    if (!this.#onPath(req)) return void refuse(404, 'Not Found');
    if (!this.host.accepting) return void refuse(503, 'Service Unavailable');
    if (this.#sessions.size >= this.options.maxConnections) return void refuse(503, 'Service Unavailable');
    authenticateUpgrade(req, this.credentials, this.options.auth).then(
      (auth) => {
        if (!auth.ok) {
          const { reason, sourceId } = auth;
          this.logger.warn({ reason, source: sourceId, peer: req.socket.remoteAddress }, 'producer refused: 401');
          this.host.sessionFailed?.('OPLOG_UNAUTHORIZED' satisfies ErrorCode);
          return refuse(401, 'Unauthorized');
        }
        if (!this.host.accepting) return refuse(503, 'Service Unavailable');
        if (socket.destroyed) return;
        socket.off('error', onError);
        this.#accept(req, socket, head, 'credential' in auth ? auth.credential : undefined);
      },
      (error: unknown) => {
        this.logger.error({ err: error }, 'could not check a source credential');
        refuse(503, 'Service Unavailable');
      },
    );
  }

  #accept(req: IncomingMessage, socket: Duplex, head: Buffer, credential: VerifiedCredential | undefined): void {
    this.#wss.handleUpgrade(req, socket, head, (ws) => {
      const session = new ConsumerSession(ws, this.host, credential?.sourceId);
      this.#sessions.add(session);
      if (credential) this.#watch.add(session, credential);
      const helloTimer = setTimeout(() => {
        if (!session.sourceId) {
          const { code, reason } = closeFor('OPLOG_HELLO_TIMEOUT', 'no hello in time');
          session.close(code, reason);
        }
      }, this.options.helloTimeoutMs);
      ws.on('close', () => {
        clearTimeout(helloTimer);
        this.#sessions.delete(session);
        this.#watch.delete(session);
        this.host.sessionClosed();
      });
    });
  }

  #onPath(req: IncomingMessage): boolean {
    return new URL(req.url ?? '/', 'http://x').pathname === this.options.path;
  }

  /**
   * Any frame or pong counts as life; a peer silent for peerTimeoutMs is cut off so its source can reconnect. A peer
   * that only looks silent may have had its frames waiting in the socket while this process was busy (a long task, a
   * pause): timers run before the loop reads sockets again, so the verdict waits one turn (setImmediate runs after
   * that read) and holds only if the peer is still silent then.
   */
  #sweepSilentPeers(): void {
    const silent = () => [...this.#sessions].filter((s) => Date.now() - s.lastHeardAt > this.options.peerTimeoutMs);
    if (silent().length === 0) return;
    setImmediate(() => {
      for (const session of silent()) {
        this.logger.warn({ source: session.sourceId }, 'producer silent; terminating');
        session.terminate();
      }
    });
  }
}
