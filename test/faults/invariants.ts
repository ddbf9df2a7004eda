import type { MikroORM } from '@mikro-orm/core';
import { checksum, tableRows } from '../support/checksum.js';
import type { LogLine } from '../support/cli.js';
import { REPLICATED } from '../support/stream-harness.js';
import type { Fleet, SourceHead, SourceNode } from './fleet.js';
import type { FaultRecord } from './injector.js';
import { isRewound } from './restores.js';

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

/** How the consumer's copy compares with the sources': rows and vote counts lost, duplicated or different. */
export interface Tally {
  lost: number;
  duplicated: number;
  mismatched: number;
  details: string[];
}

/** A vote is an increment: +1000 only ever happens in the transactions that roll back. */
const ROLLED_BACK = 1000;

/**
 * Polls the consumer's GET /api/sources until every source's cursor is at its head (same incarnation, both read
 * anew each time) with no snapshot in progress; resolves with when that was first seen, or undefined after
 * `timeoutMs`. A snapshot's cursor is the head it started at: a source restored with nothing written since sits at
 * its head long before the snapshot has brought its rows.
 */
export async function waitForLagZero(
  fleet: Fleet,
  readHeads: () => Promise<SourceHead[]>,
  timeoutMs: number,
): Promise<number | undefined> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const heads = await readHeads();
    const sources = await fleet.sourceStatuses();
    const caughtUp = heads.every((head) =>
      sources.some(
        (s) =>
          s.id === head.sourceId &&
          s.incarnation === head.incarnation &&
          s.cursor.seq === head.seq &&
          s.snapshot === undefined,
      ),
    );
    if (caughtUp) return Date.now();
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return undefined;
}

/** The consumer's durable cursor rows (oplog_consumer_cursor) against every source's head, no snapshot pending. */
export async function checkCursors(consumer: MikroORM, heads: SourceHead[]): Promise<Check> {
  const connection = consumer.em.getConnection();
  const rows = await connection.execute<{ source: string; incarnation: string; seq: number | string }[]>(
    'select source, incarnation, seq from oplog_consumer_cursor',
  );
  const snapshotting = await connection.execute<{ source: string }[]>('select source from oplog_snapshot');
  const wrong = heads.flatMap((head) => {
    const row = rows.find((r: { source: string }) => r.source === head.sourceId);
    const at = row ? `${row.incarnation}:${row.seq}` : 'none';
    return at === `${head.incarnation}:${head.seq}`
      ? []
      : [`${head.sourceId}: cursor ${at}, head ${head.incarnation}:${head.seq}`];
  });
  if (rows.length !== heads.length) wrong.push(`${rows.length} cursor rows for ${heads.length} sources`);
  for (const { source } of snapshotting) wrong.push(`${source}: a snapshot is still in progress`);
  return {
    name: 'the cursor equals the source head, with no snapshot in progress',
    ok: wrong.length === 0,
    detail: wrong.join('; ') || 'every source',
  };
}

/**
 * Every replicated table, source by source: the consumer's rows with that source's keys must be exactly the
 * source's rows (equal checksums). Rows missing, rows no source has, and vote counts off are tallied as lost or
 * duplicated.
 */
export async function compareTables(
  consumer: MikroORM,
  sources: SourceNode[],
): Promise<{ checks: Check[]; tally: Tally }> {
  const target = await tableRows(consumer, REPLICATED);
  const tally: Tally = { lost: 0, duplicated: 0, mismatched: 0, details: [] };
  const checks: Check[] = [];
  const claimed = new Map<string, Set<string>>();
  for (const node of sources) {
    const source = await tableRows(await node.orm(), REPLICATED);
    const differing: string[] = [];
    for (const [table, { columns, rows }] of source) {
      const copy = target.get(table)!.rows;
      const keys = claimed.get(table) ?? new Set<string>();
      claimed.set(table, keys);
      const mine: string[] = [];
      for (const [key, row] of rows) {
        keys.add(key);
        const replica = copy.get(key);
        if (replica !== undefined) mine.push(replica);
        if (replica === undefined) {
          tally.lost++;
          tally.details.push(`${node.label} ${table} ${key}: missing on the consumer`);
        } else if (replica !== row) countDifference(table, columns, key, row, replica, node.label, tally);
      }
      const [want, got] = [checksum(rows.values()), checksum(mine)];
      if (want !== got) differing.push(`${table} ${got} ≠ ${want}`);
    }
    checks.push({
      name: `per-table checksums equal, source ${node.label} (${node.db.driver})`,
      ok: differing.length === 0,
      detail:
        differing.join('; ') ||
        [...source.keys()].map((t) => `${t} ${checksum(source.get(t)!.rows.values())}`).join(', '),
    });
  }
  for (const [table, { rows }] of target) {
    for (const key of rows.keys()) {
      if (claimed.get(table)?.has(key)) continue;
      tally.duplicated++;
      tally.details.push(`consumer ${table} ${key}: no source has this row`);
    }
  }
  return { checks, tally };
}

/** Rows that exist on both sides but differ: a vote count off is lost or duplicated increments. */
function countDifference(
  table: string,
  columns: string[],
  key: string,
  row: string,
  replica: string,
  label: string,
  tally: Tally,
): void {
  const votes = columns.indexOf('votes');
  const [want, got] = [JSON.parse(row) as unknown[], JSON.parse(replica) as unknown[]];
  const rest = (values: unknown[]) => JSON.stringify(values.filter((_, i) => i !== votes));
  if (votes >= 0 && rest(want) === rest(got)) {
    const delta = Number(got[votes]) - Number(want[votes]);
    if (delta > 0) tally.duplicated += delta;
    else tally.lost -= delta;
  } else tally.mismatched++;
  tally.details.push(`${label} ${table} ${key}: source ${row}, consumer ${replica}`);
}

/**
 * Counters against the load's own count of committed increments, for sources written by one load run (a load knows
 * only the choices it made: a later run that deletes an earlier one's choices takes their votes along uncounted).
 */
export async function checkCounters(sources: SourceNode[]): Promise<Check> {
  const wrong: string[] = [];
  const checked: string[] = [];
  for (const node of sources) {
    if (node.loads.length !== 1) continue;
    const expected = node.load!.result?.votes;
    const [row] = await (await node.orm()).em
      .getConnection()
      .execute<{ votes: number | string | null }[]>('select sum(votes) as votes from choice');
    const actual = Number(row?.votes ?? 0);
    checked.push(`${node.label} ${actual}`);
    if (actual !== expected)
      wrong.push(`${node.label}: the load committed ${expected} votes, the source has ${actual}`);
  }
  return {
    name: "counters equal the load's committed increments",
    ok: wrong.length === 0,
    detail: wrong.join('; ') || checked.join(', '),
  };
}

/** Nothing written by a transaction that rolled back, on the consumer or on any source. */
export async function checkRolledBack(orms: { label: string; orm: MikroORM }[]): Promise<Check> {
  const found: string[] = [];
  for (const { label, orm } of orms) {
    const [row] = await orm.em.getConnection().execute<{ n: number | string }[]>(
      `select (select count(*) from question where question_text like 'rolled back%')
            + (select count(*) from choice where choice_text = 'rolled back' or votes >= ${ROLLED_BACK}) as n`,
    );
    if (Number(row?.n) > 0) found.push(`${label}: ${row?.n} rows`);
  }
  return {
    name: 'nothing from rolled-back transactions',
    ok: found.length === 0,
    detail: found.join('; ') || 'none anywhere',
  };
}

/**
 * Every stall of a link that was up must be noticed by a heartbeat (a peer timeout on either side), unless another
 * fault broke the same link during the stall.
 */
export function checkStalls(fleet: Fleet, records: FaultRecord[]): Check {
  const missed: string[] = [];
  let detected = 0;
  for (const record of records) {
    if (record.fault.kind !== 'stall') continue;
    for (const sourceId of record.linkUp ?? []) {
      const node = fleet.sources.find((n) => n.sourceId === sourceId)!;
      const during = (line: LogLine) => Number(line.time) >= record.start && Number(line.time) <= record.end + 1000;
      const seen =
        fleet.logsOf(`producer ${node.label}`).some((l) => l.code === 'OPLOG_PEER_TIMEOUT' && during(l)) ||
        fleet
          .logsOf('consumer')
          .some((l) => l.msg === 'producer silent; terminating' && l.source === sourceId && during(l));
      if (seen) detected++;
      else if (!disturbed(record, node, fleet, records)) {
        missed.push(`${record.fault.target} stall at ${record.start} on ${node.label}`);
      }
    }
  }
  return {
    name: 'every stall detected by the heartbeat',
    ok: missed.length === 0,
    detail: missed.join('; ') || `${detected} detections`,
  };
}

function disturbed(stall: FaultRecord, node: SourceNode, fleet: Fleet, records: FaultRecord[]): boolean {
  const index = fleet.sources.indexOf(node);
  return records.some((other) => {
    if (other === stall || other.end < stall.start || other.start > stall.end) return false;
    const f = other.fault;
    return !('source' in f) || f.source === index;
  });
}

/**
 * Every restore was told apart from the history the consumer had applied: the producer heard its source rewound, and
 * the consumer resnapshotted it as a new incarnation. A restore that went unnoticed can still end with equal tables
 * when the new writes happen to cover the lost ones; this says why it held.
 */
export function checkRestores(fleet: Fleet, records: FaultRecord[]): Check {
  const missed: string[] = [];
  let detected = 0;
  for (const record of records) {
    const { fault } = record;
    if (fault.kind !== 'restore' && fault.kind !== 'restore-before-first-sync' && fault.kind !== 'restore-after-trim')
      continue;
    if (record.restored === false) continue;
    const node = fleet.sources[fault.source]!;
    const after = (line: LogLine) => Number(line.time) >= record.start;
    const rewound = fleet.logsOf(`producer ${node.label}`).some((l) => isRewound(l) && after(l));
    const resnapshot = fleet
      .logsOf('consumer')
      .some((l) => after(l) && l.source === node.sourceId && l.reason === 'new-incarnation');
    if (rewound && resnapshot) detected++;
    else
      missed.push(
        `${fault.kind} of ${node.label}: ${rewound ? '' : 'no rewind; '}${resnapshot ? '' : 'no resnapshot'}`,
      );
  }
  return {
    name: 'every restore detected (source rewound, new-incarnation snapshot)',
    ok: missed.length === 0,
    detail: missed.join('; ') || `${detected} restores`,
  };
}
