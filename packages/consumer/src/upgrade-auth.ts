import type { IncomingMessage } from 'node:http';
import { isLoopback } from '@oplog/dashboard';
import type { CredentialStore, Verification } from './credential-store.js';

/** `credentials`: every producer presents a source credential. `none`: producers without one are let in too. */
export type AuthMode = 'credentials' | 'none';

/** Throws when producers could connect without a credential from beyond loopback. */
export function checkAuthMode(host: string, mode: AuthMode): void {
  if (mode === 'none' && !isLoopback(host)) {
    throw new TypeError(`auth: 'none' lets any producer in: it is refused when listening on ${host} (beyond loopback)`);
  }
}

/** An anonymous producer, admitted only with auth: 'none'. */
export const ANONYMOUS = { ok: true } as const;

/**
 * Checks the `Authorization: Bearer <token>` of a WebSocket upgrade request. A credential that is presented is always
 * verified, also with auth: 'none'; only its absence is allowed there.
 */
export async function authenticateUpgrade(
  req: IncomingMessage,
  store: CredentialStore,
  mode: AuthMode,
): Promise<Verification | typeof ANONYMOUS> {
  const header = req.headers.authorization;
  if (header === undefined) return mode === 'none' ? ANONYMOUS : { ok: false, reason: 'missing' };
  const token = /^Bearer ([^\s]+)$/i.exec(header)?.[1];
  if (token === undefined) return { ok: false, reason: 'malformed' };
  return store.verify(token);
}
