/** Entries a source may apply at once before the limit holds it back: one second's worth. */
const BURST_MS = 1000;

/**
 * An entries-per-second limit for one source (a GCRA, the token bucket without the bookkeeping). It never drops:
 * it tells the apply loop how long to wait before applying, and the wait holds the acks back, so the producer's
 * window fills and it stops sending.
 */
export class RateLimit {
  readonly #costMs: number;
  /** When the entries taken so far would all have been spent at exactly the rate. */
  #spentUntil = 0;

  constructor(perSecond: number) {
    if (!(perSecond > 0)) throw new TypeError('maxEntriesPerSecond must be positive');
    this.#costMs = 1000 / perSecond;
  }

  /** Takes `entries` from the budget; returns the milliseconds to wait before applying them. */
  take(entries: number, now = Date.now()): number {
    this.#spentUntil = Math.max(this.#spentUntil, now) + entries * this.#costMs;
    return Math.max(0, this.#spentUntil - now - BURST_MS);
  }
}
