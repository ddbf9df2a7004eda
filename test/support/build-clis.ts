import { buildClis } from './cli.js';

/** vitest's global setup: the end-to-end suites spawn the compiled CLIs, so they are built (or found current) first. */
export default function setup(): void {
  buildClis();
}
