import { existsSync } from 'node:fs';
import { defineConfig } from 'vitest/config';
import { postgresReachable } from './test/support/services.js';

// PostgreSQL suites are named *.pg.test.ts. Without a server they are left out with one line saying why,
// except under CI=true, where a suite that cannot run must fail the run instead.
const postgres = await postgresReachable();
if (!postgres) {
  const why = 'PostgreSQL is not reachable at 127.0.0.1:5432';
  if (process.env.CI === 'true') throw new Error(`${why}, and CI=true requires the PostgreSQL suites`);
  console.warn(`${why}: skipping the *.pg.test.ts suites (start it, or run .ci/run, to include them)`);
}

// Browser suites (*.browser.test.ts) drive Debian's Chromium; the same rule: left out without it, fatal under CI.
const CHROMIUM = '/usr/bin/chromium';
const chromium = existsSync(CHROMIUM);
if (!chromium) {
  const why = `${CHROMIUM} is missing`;
  if (process.env.CI === 'true') throw new Error(`${why}, and CI=true requires the browser suites`);
  console.warn(
    `${why}: skipping the *.browser.test.ts suites (apt-get install -y chromium, or run .ci/run, to include them)`,
  );
}

// The end-to-end suites run each case on one of their driver pairings (test/support/pairings.ts); the rotation picks
// which, and changes from run to run, so that successive runs cover every pairing. Printed, for a replay.
// Six rotations: every offset of a suite of 2 pairings and of one of 3.
process.env.OPLOG_TEST_ROTATION ??= String(Math.floor(Math.random() * 6));
console.log(
  process.env.OPLOG_TEST_MATRIX === 'full'
    ? 'end-to-end suites: every case on every driver pairing (OPLOG_TEST_MATRIX=full)'
    : `end-to-end suites: driver pairing rotation ${process.env.OPLOG_TEST_ROTATION} (OPLOG_TEST_ROTATION=${process.env.OPLOG_TEST_ROTATION} replays it; npm run test:matrix runs every case on every pairing)`,
);

export default defineConfig({
  resolve: { conditions: ['@oplog/source'] },
  ssr: { resolve: { conditions: ['@oplog/source'] } },
  test: {
    include: ['packages/*/src/**/*.test.ts', 'apps/*/src/**/*.test.ts', 'test/**/*.test.ts'],
    exclude: [
      '**/node_modules/**',
      ...(postgres ? [] : ['**/*.pg.test.ts']),
      ...(chromium ? [] : ['**/*.browser.test.ts']),
    ],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    globalSetup: ['test/support/build-clis.ts'],
    // Two files at a time: most suites wait on the processes and databases they drive, so a second file fills the
    // other core. More only queue up for the CPU: the whole suite took 736 s with 4, 543 s with 2, 803 s with 1.
    maxWorkers: 2,
    // A worker keeps its loaded modules from one file to the next instead of importing MikroORM, ws and the
    // packages again for each: the package suites took 56-72 core-seconds instead of 105-112. The files share no
    // state through modules (each builds its own ORM, servers and databases; the one that fakes timers restores them).
    isolate: false,
  },
});
