import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { MikroORM } from '@mikro-orm/core';
import { openOrm } from '@oplog/runtime';
import { pollsEntities } from '../../apps/demo/src/entities.js';
import { createTestDatabase, type Driver, type TestDatabase } from '../support/databases.js';
import { postgresReachable } from '../support/services.js';
import { Fleet, sleepUntil } from './fleet.js';
import { type FaultRecord, inject } from './injector.js';
import {
  type Check,
  checkCounters,
  checkCursors,
  checkRolledBack,
  checkStalls,
  compareTables,
  waitForLagZero,
} from './invariants.js';
import { CI_SIZE, LONG_SIZE, scaled, schedule } from './schedule.js';
import { formatSummary, kindOf } from './summary.js';
import { mountTmpfs, unmount } from './tmpfs.js';

/** Lag must be back to 0 this soon after the last fault. */
const CONVERGE_MS = 10_000;

const { values: args } = parseArgs({
  options: {
    seed: { type: 'string' },
    long: { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    scale: { type: 'string' },
  },
});
const seed = args.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(args.seed);
const size = scaled(args.long ? LONG_SIZE : CI_SIZE, Number(args.scale ?? 1));
const sizeName = `${args.long ? 'long' : 'CI'}${args.scale ? ` ×${args.scale}` : ''}`;
const ci = process.env.CI === 'true';

async function main(): Promise<number> {
  const wallStart = Date.now();
  console.log(
    `faults: seed ${seed}, ${sizeName} size (replay: npm run test:faults -- --seed ${seed}${args.long ? ' --long' : ''})`,
  );
  const runDir = mkdtempSync(join(tmpdir(), `oplog-faults-${seed}-`));
  const skipped: string[] = [];

  // The consumer's SQLite database on a small tmpfs of its own, so that its disk can be filled.
  const fsDir = join(runDir, 'consumer-fs');
  const tmpfs = mountTmpfs(fsDir, size.tmpfsMb);
  if (!tmpfs.mounted) {
    if (ci) throw new Error(`the disk-full episode needs a tmpfs, and CI=true requires it: ${tmpfs.reason}`);
    skipped.push(`consumer disk full (${tmpfs.reason})`);
    console.log(`faults: skipping the disk-full episode: ${tmpfs.reason}`);
  }
  const consumerFile = join(fsDir, 'consumer.sqlite');
  const consumerDb: TestDatabase = { driver: 'sqlite', dbName: consumerFile, drop: async () => undefined };

  const drivers: Driver[] = ['sqlite', 'sqlite', 'postgresql'];
  if (!(await postgresReachable())) {
    if (ci) throw new Error('PostgreSQL is not reachable at 127.0.0.1:5432, and CI=true requires it');
    drivers[2] = 'sqlite';
    skipped.push('a PostgreSQL source (PostgreSQL is not reachable: three SQLite sources instead)');
  }

  const fleet = new Fleet(consumerDb);
  const databases: TestDatabase[] = [];
  let consumerOrm: MikroORM | undefined;
  let records: FaultRecord[] = [];
  let ok = false;
  const stopOnSignal = (signal: NodeJS.Signals) => {
    console.log(`faults: ${signal}: stopping`);
    void cleanUp(false).finally(() => process.exit(130));
  };
  process.once('SIGINT', stopOnSignal);
  process.once('SIGTERM', stopOnSignal);

  async function cleanUp(passed: boolean): Promise<void> {
    await fleet.dispose().catch((e: unknown) => console.error('faults: cleanup:', e));
    await consumerOrm?.close();
    writeFileSync(join(runDir, 'faults.jsonl'), records.map((r) => JSON.stringify(r)).join('\n'));
    if (!passed) {
      const logs = join(runDir, 'logs');
      mkdirSync(logs, { recursive: true });
      for (const { label, cli } of fleet.processes) {
        writeFileSync(join(logs, `${label.replace(/[^a-zA-Z0-9]+/g, '-')}.log`), cli.output.join('\n'));
      }
      for (const suffix of ['', '-wal']) {
        if (existsSync(consumerFile + suffix))
          copyFileSync(consumerFile + suffix, join(runDir, `consumer.sqlite${suffix}`));
      }
    }
    if (tmpfs.mounted) unmount(fsDir);
    if (passed) {
      for (const db of databases) await db.drop();
      if (!args.keep) rmSync(runDir, { recursive: true, force: true });
      return;
    }
    console.log(
      `faults: FAILED with seed ${seed}; replay: npm run test:faults -- --seed ${seed}${args.long ? ' --long' : ''}`,
    );
    console.log(`faults: logs, the fault record and the consumer's database kept in ${runDir}`);
    for (const [i, db] of databases.entries())
      console.log(`faults: source ${'ABC'[i]} kept: ${db.driver} ${db.dbName}`);
  }

  try {
    for (const [i, driver] of drivers.entries()) {
      const db = await createTestDatabase(driver, `faults_${'abc'[i]}`);
      databases.push(db);
      await fleet.addSource('ABC'[i]!, db);
    }
    await fleet.startConsumer();
    consumerOrm = await openOrm({ driver: 'sqlite', name: consumerFile }, { entities: pollsEntities });
    await Promise.all(fleet.sources.map((node) => fleet.startProducer(node)));
    const rate = size.transactionsPerSource / (size.windowMs / 1000);
    for (const [i, node] of fleet.sources.entries()) fleet.startLoad(node, size.transactionsPerSource, rate, seed + i);

    const plan = schedule(seed, size, fleet.sources.length).filter((f) => f.kind !== 'disk-full' || tmpfs.mounted);
    console.log(
      `faults: ${plan.length} faults over ${size.windowMs / 1000} s, ${fleet.sources.length} sources (${drivers.join(', ')}), load ${rate.toFixed(1)} tx/s each`,
    );
    let done = 0;
    const progress = setInterval(() => {
      const elapsed = ((Date.now() - wallStart) / 1000).toFixed(0);
      console.log(`faults: ${elapsed} s, ${done}/${plan.length} faults, ${fleet.crashes.length} crashes`);
    }, 30_000);
    try {
      records = await inject(
        plan,
        {
          fleet,
          consumerOrm: async () => consumerOrm!,
          tmpfsDir: tmpfs.mounted ? fsDir : undefined,
          backupFile: join(runDir, 'backup.sqlite'),
          loadRate: rate,
          seed,
          transactionsPerSource: size.transactionsPerSource,
        },
        () => done++,
      );
    } finally {
      clearInterval(progress);
    }
    const lastFault = Math.max(...records.map((r) => r.end));
    const loadsEnded = await sleepUntil(
      () => fleet.sources.every((node) => node.load?.result !== undefined) || fleet.crashes.length > 0,
      size.windowMs,
    );
    const loadEnd = Math.max(...fleet.sources.map((node) => node.load?.endedAt ?? Date.now()));
    const heads = await Promise.all(fleet.sources.map((node) => node.head()));
    const convergedAt = await waitForLagZero(fleet, heads, 120_000);
    const checks: Check[] = [];
    checks.push({
      name: 'every load ran to its end',
      ok: loadsEnded && fleet.sources.every((n) => n.load?.result !== undefined),
      detail: fleet.sources
        .map((n) => `${n.label} ${n.loads.map((l) => l.result?.transactions ?? '?').join('+')} tx`)
        .join(', '),
    });
    checks.push({
      name: 'no process crashed',
      ok: fleet.crashes.length === 0,
      detail: fleet.crashes.map((c) => `${c.label} exited ${c.code ?? c.signal}:\n${c.tail}`).join('\n') || 'none',
    });
    const convergeMs = convergedAt === undefined ? undefined : convergedAt - Math.max(lastFault, loadEnd);
    checks.push({
      name: `lag back to 0 within ${CONVERGE_MS / 1000} s of the last fault`,
      ok: convergeMs !== undefined && convergeMs <= CONVERGE_MS,
      detail: convergeMs === undefined ? 'never (waited 120 s)' : `${(convergeMs / 1000).toFixed(1)} s`,
    });
    checks.push(await checkCursors(consumerOrm, heads));
    const tables = await compareTables(consumerOrm, fleet.sources);
    checks.push(...tables.checks);
    checks.push({
      name: '0 lost, 0 duplicated',
      ok: tables.tally.lost === 0 && tables.tally.duplicated === 0 && tables.tally.mismatched === 0,
      detail: `${tables.tally.lost} lost, ${tables.tally.duplicated} duplicated, ${tables.tally.mismatched} rows different`,
    });
    checks.push(await checkCounters(fleet.sources));
    checks.push(
      await checkRolledBack([
        { label: 'consumer', orm: consumerOrm },
        ...(await Promise.all(fleet.sources.map(async (n) => ({ label: n.label, orm: await n.orm() })))),
      ]),
    );
    checks.push(checkStalls(fleet, records));
    checks.push(checkPlanned(records, plan.length));
    ok = checks.every((c) => c.ok);
    console.log(
      formatSummary({
        seed,
        size: sizeName,
        wallMs: Date.now() - wallStart,
        records,
        skipped,
        changes: fleet.sources.map((n, i) => ({ label: n.label, driver: n.db.driver, seq: heads[i]!.seq })),
        tally: tables.tally,
        convergeMs,
        lastFaultBeforeLoadEndMs: loadEnd - lastFault,
        checks,
      }),
    );
  } catch (error) {
    console.error('faults: the run failed:', error);
    ok = false;
  } finally {
    await cleanUp(ok);
  }
  return ok ? 0 : 1;
}

/** Every fault of the plan happened (none lost to an exception in the runner). */
function checkPlanned(records: FaultRecord[], planned: number): Check {
  const kinds = new Set(records.map(kindOf));
  return {
    name: 'every planned fault was injected',
    ok: records.length === planned,
    detail: `${records.length} of ${planned}, ${kinds.size} kinds`,
  };
}

process.exitCode = await main();
