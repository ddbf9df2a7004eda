import { parseArgs } from 'node:util';
import { buildClis } from '../support/cli.js';
import type { Driver } from '../support/databases.js';
import { postgresReachable } from '../support/services.js';
import { runCenter } from './center-run.js';
import { CI_SIZE, LONG_SIZE, scaled } from './schedule.js';
import { type CenterFigures, formatCenters } from './summary.js';

const CENTERS = { sqlite: ['sqlite'], pg: ['postgresql'], both: ['sqlite', 'postgresql'] } as const;

const { values: args } = parseArgs({
  options: {
    seed: { type: 'string' },
    long: { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    scale: { type: 'string' },
    center: { type: 'string', default: 'both' },
  },
});
if (!(args.center! in CENTERS)) {
  console.error(`faults: --center must be sqlite, pg or both, not ${args.center}`);
  process.exit(2);
}
const centerOption = args.center as keyof typeof CENTERS;
const seed = args.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(args.seed);
const ci = process.env.CI === 'true';

/**
 * The same seed (the same schedule and workload) against each center, side by side. With both, each run gets half
 * the size (half the changes and faults over half the window): together they make one full run's faults, each on
 * the machine that the other one loads, in less time than one after the other. A single center's run replays with `--center <it> --scale <its
 * factor>`.
 */
async function main(): Promise<number> {
  buildClis();
  const wallStart = Date.now();
  const centers: Driver[] = [...CENTERS[centerOption]];
  const factor = Number(args.scale ?? 1) / centers.length;
  const size = scaled(args.long ? LONG_SIZE : CI_SIZE, factor);
  const sizeName = `${args.long ? 'long' : 'CI'}${factor === 1 ? '' : ` ×${factor}`}`;
  const pgUp = await postgresReachable();
  if (!pgUp && ci) throw new Error('PostgreSQL is not reachable at 127.0.0.1:5432, and CI=true requires it');
  const skipped: string[] = [];
  const sources: Driver[] = ['sqlite', 'sqlite', pgUp ? 'postgresql' : 'sqlite'];
  if (!pgUp) skipped.push('a PostgreSQL source (PostgreSQL is not reachable: three SQLite sources instead)');
  console.log(
    `faults: seed ${seed}, ${sizeName} size, center ${centers.join(' and ')} (replay: npm run test:faults -- --seed ${seed} --center ${centerOption}${args.long ? ' --long' : ''}${args.scale ? ` --scale ${args.scale}` : ''})`,
  );

  const runs = centers.map((center) => {
    if (center === 'postgresql' && !pgUp) {
      console.log('faults: skipping the PostgreSQL center: PostgreSQL is not reachable');
      return undefined;
    }
    const replay = `npm run test:faults -- --seed ${seed} --center ${center === 'sqlite' ? 'sqlite' : 'pg'}${args.long ? ' --long' : ''}${factor === 1 ? '' : ` --scale ${factor}`}`;
    return runCenter({ center, seed, size, sizeName, replay, keep: args.keep!, ci, sources, skipped });
  });
  const results: CenterFigures[] = (await Promise.all(runs)).filter((r) => r !== undefined);
  console.log(formatCenters(seed, results, Date.now() - wallStart));
  return results.length > 0 && results.every((r) => r.ok) ? 0 : 1;
}

process.exitCode = await main();
