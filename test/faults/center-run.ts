import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MikroORM } from '@mikro-orm/core';
import { pollsEntities } from '@oplog/demo/entities';
import { openOrm } from '@oplog/runtime';
import { createTestDatabase, type Driver, type TestDatabase } from '../support/databases.js';
import { dropBackup } from '../support/db-backup.js';
import { dbConfig } from '../support/stream-harness.js';
import { Fleet, sleepUntil } from './fleet.js';
import { type FaultRecord, inject } from './injector.js';
import {
  type Check,
  checkCounters,
  checkCursors,
  checkRestores,
  checkRolledBack,
  checkStalls,
  compareTables,
  waitForLagZero,
} from './invariants.js';
import { writeBeforeFirstSync } from './restores.js';
import { firstSyncSource, type RunSize, schedule } from './schedule.js';
import { type CenterFigures, formatSummary, kindOf } from './summary.js';
import { mountTmpfs, unmount } from './tmpfs.js';

/** Lag must be back to 0 this soon after the last fault. */
const CONVERGE_MS = 10_000;

export interface CenterRunOptions {
  /** The consumer's (center's) database driver. */
  center: Driver;
  seed: number;
  size: RunSize;
  sizeName: string;
  /** The command that replays this run. */
  replay: string;
  keep: boolean;
  ci: boolean;
  /** The sources' drivers, in order (the first is SQLite: the mid-run backup copies its file). */
  sources: Driver[];
  /** What the run could not do here, and why (printed in the summary). */
  skipped: string[];
}

/** One fault run against one center: its fleet, its faults, its verdict. Resolves with its figures. */
export async function runCenter(options: CenterRunOptions): Promise<CenterFigures> {
  const { center, seed, size, ci } = options;
  const wallStart = Date.now();
  const skipped = [...options.skipped];
  console.log(`faults: ${center} center, seed ${seed}, ${options.sizeName} size (replay: ${options.replay})`);
  const runDir = mkdtempSync(join(tmpdir(), `oplog-faults-${seed}-${center}-`));

  // An SQLite center sits on a small tmpfs of its own, so that its disk can be filled. A PostgreSQL center lives on
  // the shared server, whose disk the run must not fill.
  const fsDir = join(runDir, 'consumer-fs');
  const tmpfs =
    center === 'sqlite'
      ? mountTmpfs(fsDir, size.tmpfsMb)
      : ({ mounted: false, reason: "a PostgreSQL center's disk is the shared server's" } as const);
  if (!tmpfs.mounted) {
    if (ci && center === 'sqlite')
      throw new Error(`the disk-full episode needs a tmpfs, and CI=true requires it: ${tmpfs.reason}`);
    skipped.push(`consumer disk full (${tmpfs.reason})`);
  }
  const consumerFile = join(fsDir, 'consumer.sqlite');
  const consumerDb: TestDatabase =
    center === 'sqlite'
      ? { driver: 'sqlite', dbName: consumerFile, drop: async () => undefined }
      : await createTestDatabase('postgresql', 'faults_center');

  const fleet = new Fleet(consumerDb);
  const databases: TestDatabase[] = [];
  let consumerOrm: MikroORM | undefined;
  let records: FaultRecord[] = [];
  let figures: CenterFigures = {
    center,
    ok: false,
    changes: 0,
    faults: 0,
    effective: 0,
    lost: 0,
    duplicated: 0,
    mismatched: 0,
    wallMs: 0,
  };
  const stopOnSignal = (signal: NodeJS.Signals) => {
    console.log(`faults: ${signal}: stopping`);
    void cleanUp(false).finally(() => process.exit(130));
  };
  process.once('SIGINT', stopOnSignal);
  process.once('SIGTERM', stopOnSignal);

  async function cleanUp(passed: boolean): Promise<void> {
    process.off('SIGINT', stopOnSignal);
    process.off('SIGTERM', stopOnSignal);
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
      for (const db of databases) await dropBackup(db);
      await consumerDb.drop();
      if (!options.keep) rmSync(runDir, { recursive: true, force: true });
      return;
    }
    console.log(`faults: FAILED (${center} center) with seed ${seed}; replay: ${options.replay}`);
    console.log(`faults: logs, the fault record and an SQLite consumer's database kept in ${runDir}`);
    if (center === 'postgresql') console.log(`faults: the center kept: postgresql ${consumerDb.dbName}`);
    for (const [i, db] of databases.entries())
      console.log(`faults: source ${'ABC'[i]} kept: ${db.driver} ${db.dbName}`);
  }

  let ok = false;
  try {
    const rate = size.transactionsPerSource / (size.windowMs / 1000);
    const plan = schedule(seed, size, options.sources.length).filter((f) => f.kind !== 'disk-full' || tmpfs.mounted);
    const context = {
      fleet,
      consumerOrm: async () => consumerOrm!,
      tmpfsDir: tmpfs.mounted ? fsDir : undefined,
      backupHeads: new Map<number, number>(),
      loadRate: rate,
      // Set again when the loads start (the setup before takes a while).
      loadEndsAt: Date.now() + size.windowMs,
      seed,
      transactionsPerSource: size.transactionsPerSource,
    };
    for (const [i, driver] of options.sources.entries()) {
      const db = await createTestDatabase(driver, `faults_${'abc'[i]}`);
      databases.push(db);
      await fleet.addSource('ABC'[i]!, db);
    }
    // Its app writes before its producer ever connects: the producer starts with its episode.
    const lateSource = firstSyncSource(plan);
    if (lateSource !== undefined) await writeBeforeFirstSync(context, lateSource);
    await fleet.startConsumer();
    consumerOrm = await openOrm(dbConfig(consumerDb), { entities: pollsEntities });
    context.loadEndsAt = Date.now() + size.windowMs;
    const onTime = fleet.sources.filter((_, i) => i !== lateSource);
    await Promise.all(onTime.map((node) => fleet.startProducer(node)));
    for (const node of onTime) {
      const i = fleet.sources.indexOf(node);
      fleet.startLoad(node, size.transactionsPerSource, rate, seed + i);
    }

    console.log(
      `faults: ${plan.length} faults over ${size.windowMs / 1000} s, ${fleet.sources.length} sources (${options.sources.join(', ')}), ${center} center, load ${rate.toFixed(1)} tx/s each`,
    );
    let done = 0;
    const progress = setInterval(() => {
      const elapsed = ((Date.now() - wallStart) / 1000).toFixed(0);
      console.log(
        `faults: ${center} center, ${elapsed} s, ${done}/${plan.length} faults, ${fleet.crashes.length} crashes`,
      );
    }, 30_000);
    try {
      records = await inject(plan, context, () => done++);
    } finally {
      clearInterval(progress);
    }
    const lastFault = Math.max(...records.map((r) => r.end));
    const loadsEnded = await sleepUntil(
      () => fleet.sources.every((node) => node.load?.result !== undefined) || fleet.crashes.length > 0,
      size.windowMs,
    );
    const loadEnd = Math.max(...fleet.sources.map((node) => node.load?.endedAt ?? Date.now()));
    // A producer that finds its source restored late renews its incarnation: the heads are read again as they go.
    const readHeads = () => Promise.all(fleet.sources.map((node) => node.head()));
    const convergedAt = await waitForLagZero(fleet, readHeads, 120_000);
    const heads = await readHeads();
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
    checks.push(checkRestores(fleet, records));
    checks.push(checkPlanned(records, plan.length));
    ok = checks.every((c) => c.ok);
    const changes = fleet.sources.map((n, i) => ({ label: n.label, driver: n.db.driver, seq: heads[i]!.seq }));
    const wallMs = Date.now() - wallStart;
    figures = {
      center,
      ok,
      changes: changes.reduce((sum, c) => sum + c.seq, 0),
      faults: records.length,
      effective: records.filter((r) => r.effective).length,
      lost: tables.tally.lost,
      duplicated: tables.tally.duplicated,
      mismatched: tables.tally.mismatched,
      wallMs,
    };
    console.log(
      formatSummary({
        seed,
        center,
        size: options.sizeName,
        wallMs,
        records,
        skipped,
        changes,
        tally: tables.tally,
        convergeMs,
        lastFaultBeforeLoadEndMs: loadEnd - lastFault,
        checks,
      }),
    );
  } catch (error) {
    console.error(`faults: the run against the ${center} center failed:`, error);
    ok = false;
  } finally {
    await cleanUp(ok);
  }
  return { ...figures, ok, wallMs: Date.now() - wallStart };
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
