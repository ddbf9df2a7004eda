import { rootCertificates } from 'node:tls';
import { OplogError } from '@oplog/protocol';
import WebSocket from 'ws';

export interface ConnectionOptions {
  url: string;
  /** The source credential, sent as `Authorization: Bearer` with the upgrade request. */
  token?: string;
  /** A CA certificate (PEM) trusted in addition to the system's. */
  ca?: Buffer;
  maxPayload: number;
}

/**
 * Opens one connection to the consumer. Certificates are always verified, on purpose without a way to turn that off:
 * `rejectUnauthorized` is set explicitly, so that NODE_TLS_REJECT_UNAUTHORIZED cannot turn it off either.
 */
export function openConnection(options: ConnectionOptions): WebSocket {
  return new WebSocket(options.url, {
    maxPayload: options.maxPayload,
    perMessageDeflate: false,
    // No handshakeTimeout here: the session's own timer words a silent upgrade (see handshakeUnanswered).
    headers: options.token ? { authorization: `Bearer ${options.token}` } : {},
    rejectUnauthorized: true,
    // `ca` replaces Node's bundled roots; keep them, so a custom CA adds to what is trusted.
    ...(options.ca ? { ca: [...rootCertificates, options.ca] } : {}),
  });
}

/** OpenSSL's verdicts on a certificate that does not check out. */
const UNTRUSTED = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_UNTRUSTED',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_SIGNATURE_FAILURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** Socket errors that mean no consumer was reached at all: refused, no such host, no route, timed out. */
const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH']);

/** A socket error as a stable code; an untrusted certificate says so, and what to set. */
export function connectionError(error: Error & { code?: string }): OplogError {
  if (error.code && UNTRUSTED.has(error.code)) return OplogError.tlsUntrusted(error);
  if (error.code && UNREACHABLE.has(error.code)) {
    return consumerUnreachable(`no consumer answers (${error.message}): is it running, and is url right?`, error);
  }
  return OplogError.internal(error);
}

/** The consumer answered the upgrade with an HTTP status instead of switching protocols. */
export function handshakeRefused(status: number | undefined): OplogError {
  if (status === 401) {
    return OplogError.unauthorized(
      'the consumer refused this source credential (HTTP 401): missing, wrong, expired or revoked',
    );
  }
  // The consumer answers 426 to a request on its path that does not ask for the upgrade: something in between
  // dropped the Upgrade header.
  if (status === 426) {
    return consumerUnreachable(
      'HTTP 426 Upgrade Required: the consumer got the request without its Upgrade header, so a proxy in between does not forward the WebSocket upgrade (nginx: proxy_http_version 1.1 and the Upgrade and Connection headers)',
    );
  }
  return consumerUnreachable(
    `HTTP ${status} instead of a WebSocket upgrade: no consumer at this url (check its port and path, /oplog by default)`,
  );
}

/**
 * Nothing answered the upgrade within the handshake timeout: the connection hangs (a firewall that drops it), or
 * something accepts it and never speaks (not a consumer, or a proxy holding it). No consumer was reached.
 */
export function handshakeUnanswered(timeoutMs: number): OplogError {
  return consumerUnreachable(
    `no answer to the WebSocket upgrade within ${timeoutMs} ms: something at this url accepts connections but does not answer (not a consumer, or a proxy or firewall holding it)`,
  );
}

function consumerUnreachable(message: string, cause?: unknown): OplogError {
  return new OplogError('OPLOG_CONSUMER_UNREACHABLE', message, { cause });
}
