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
  handshakeTimeoutMs: number;
}

/**
 * Opens one connection to the consumer. Certificates are always verified, on purpose without a way to turn that off:
 * `rejectUnauthorized` is set explicitly, so that NODE_TLS_REJECT_UNAUTHORIZED cannot turn it off either.
 */
export function openConnection(options: ConnectionOptions): WebSocket {
  return new WebSocket(options.url, {
    maxPayload: options.maxPayload,
    perMessageDeflate: false,
    handshakeTimeout: options.handshakeTimeoutMs,
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
  return status === 401
    ? OplogError.unauthorized(
        'the consumer refused this source credential (HTTP 401): missing, wrong, expired or revoked',
      )
    : consumerUnreachable(
        `HTTP ${status} instead of a WebSocket upgrade: no consumer at this url (check its port and path, /oplog by default)`,
      );
}

function consumerUnreachable(message: string, cause?: unknown): OplogError {
  return new OplogError('OPLOG_CONSUMER_UNREACHABLE', message, { cause });
}
