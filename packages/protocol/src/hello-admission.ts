import { OplogError } from './errors.js';
import type { Hello } from './frames.js';
import { negotiateVersion } from './version.js';

/** What a consumer's connection knows when a hello arrives. */
export interface HelloContext {
  /** This connection already had its hello. */
  helloSeen: boolean;
  /** The source whose credential opened the connection; undefined for an anonymous one (auth: 'none'). */
  credentialSourceId: string | undefined;
}

/**
 * The consumer's first checks on a hello, before it touches the source's state: one hello per connection, a protocol
 * version both sides speak, and a source that is the one the credential names. Returns the version to welcome with,
 * or the error the session ends with.
 */
export function admitHello(hello: Hello, context: HelloContext): { version: number } | { error: OplogError } {
  if (context.helloSeen) return { error: OplogError.badFrame('second hello') };
  const version = negotiateVersion(hello.protocol);
  if (version === undefined) {
    return { error: OplogError.versionUnsupported(hello.protocol.min, hello.protocol.max) };
  }
  const credited = context.credentialSourceId;
  if (credited !== undefined && hello.source !== credited) {
    return { error: OplogError.unauthorized(`credential is for source ${credited}, hello claims ${hello.source}`) };
  }
  return { version };
}

/**
 * One live session per source. A newcomer is refused (OPLOG_SOURCE_BUSY) while the current session was heard within
 * `peerTimeoutMs`: two producers with one identity would otherwise take turns, and two different databases would
 * resnapshot each other endlessly. A silent session is replaced. `currentHeardAt`: when the source's current
 * session was last heard from, undefined when it has none.
 */
export function fenceNewcomer(
  source: string,
  currentHeardAt: number | undefined,
  now: number,
  peerTimeoutMs: number,
): OplogError | undefined {
  return currentHeardAt !== undefined && now - currentHeardAt < peerTimeoutMs
    ? OplogError.sourceBusy(source)
    : undefined;
}
