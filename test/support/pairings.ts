import { it, type TestFunction } from 'vitest';
import type { Driver } from './databases.js';

/** A source driver and a target driver, as an end-to-end suite runs them. */
export type Pairing = readonly [source: Driver, target: Driver];

/** Set to `full` to run every case of every end-to-end suite on each of its pairings. */
const FULL_MATRIX = process.env.OPLOG_TEST_MATRIX === 'full';
/** Drawn once per run by vitest.config.ts, which prints it; set it to replay a run's choice. */
const ROTATION = Number(process.env.OPLOG_TEST_ROTATION ?? 0);

/** A case: registered with vitest, or not at all on the pairings it does not run on. */
export type Case = (name: string, test: TestFunction, timeout?: number) => void;

/**
 * The `it` of one pairing of a suite that runs on several (one test file each). By default each case runs on one
 * pairing only, case k on pairing (k + rotation) mod n: every case runs once, every pairing runs a share of them, and
 * since the rotation changes from run to run, successive runs cover the whole matrix. The cases that differ by driver
 * also have suites of their own per driver (capture, applier, the fault runner's two centers); an end-to-end case
 * repeated on every pairing cost more than half of the suite's time. OPLOG_TEST_MATRIX=full runs them all.
 */
export function pairingCases(pairing: Pairing, pairings: readonly Pairing[]): Case {
  const index = pairings.findIndex(([source, target]) => source === pairing[0] && target === pairing[1]);
  if (index < 0) throw new Error(`${pairing.join(' → ')} is not one of the suite's pairings`);
  let next = 0;
  const runsHere = () => FULL_MATRIX || (next++ + ROTATION) % pairings.length === index;
  return (name, test, timeout) => {
    if (runsHere()) it(name, test, timeout);
  };
}
