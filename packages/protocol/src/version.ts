/**
 * The wire protocol version. Bump it on any change a peer could misread, and add a line below.
 *
 * 1: hello / welcome / batch / ack / error / heartbeat, JSON text frames.
 * 2: snapshots (welcome.snapshot, snapshot pages), hello.oldest, the cursor's txId for the continuity check; the
 *    credential moved from the hello to the HTTP upgrade's Authorization header; `partial` batches of a transaction
 *    too big for one frame (acked with the durable seq, which stays put until the transaction's last part).
 * 3: hello.headTxId, the transaction at the head, which a snapshot's cursor keeps so that a restore after it is
 *    detected. A consumer of protocol 2 refuses that hello (unknown key): upgrade the center before its sources.
 */
export const PROTOCOL_VERSION = 3;

/** The oldest version this build still speaks. */
export const MIN_PROTOCOL_VERSION = 2;

/** Picks the highest version both peers speak, or undefined when their ranges do not overlap. */
export function negotiateVersion(peer: { min: number; max: number }): number | undefined {
  const chosen = Math.min(peer.max, PROTOCOL_VERSION);
  return chosen >= Math.max(peer.min, MIN_PROTOCOL_VERSION) ? chosen : undefined;
}
