import { expect } from 'vitest';
import { type TableRows, tableRows } from './checksum.js';
import { sleep } from './source-site.js';
import { REPLICATED, type StreamHarness } from './stream-harness.js';

/** Where many sources stand against one consumer: each source's head and cursor, and what differs in the rows. */
export interface UnionState {
  heads: Record<string, number>;
  cursors: Record<string, number>;
  /** Empty when the consumer holds exactly the disjoint union of the sites' rows, each owned by its site. */
  problems: string[];
}

/**
 * Compares the consumer with every site of the harness. The rows are read only once every cursor is at its head
 * (reading every row while the consumer catches up would only slow it down).
 */
export async function unionState(harness: StreamHarness): Promise<UnionState> {
  const heads: Record<string, number> = {};
  const cursors: Record<string, number> = {};
  for (const site of harness.sites) {
    heads[site.id] = await site.head();
    cursors[site.id] = await harness.cursor(site.id);
  }
  if (harness.sites.some((site) => heads[site.id] !== cursors[site.id])) {
    return { heads, cursors, problems: ['some cursor is not at its head'] };
  }
  return { heads, cursors, problems: await unionProblems(harness) };
}

/** Polls until every cursor is at its source's head and the rows are the union, then asserts it. */
export async function waitForUnion(harness: StreamHarness, timeoutMs = 60_000): Promise<UnionState> {
  const deadline = Date.now() + timeoutMs;
  let state = await unionState(harness);
  while (state.problems.length > 0 && Date.now() < deadline) {
    await sleep(250);
    state = await unionState(harness);
  }
  expect(
    { cursors: state.cursors, problems: state.problems },
    `the consumer did not converge on the union of its sources within ${timeoutMs / 1000} s`,
  ).toEqual({ cursors: state.heads, problems: [] });
  return state;
}

/**
 * Per table (pivot tables included): every site's rows, none of them in two sites, are on the consumer with the
 * same values, and the consumer has no other rows; each entity row is owned (oplog_row_owner) by its site.
 */
async function unionProblems(harness: StreamHarness): Promise<string[]> {
  const target = await harness.targetOrm();
  const consumer = await tableRows(target, REPLICATED);
  const sites = await Promise.all(
    harness.sites.map(async (site) => ({ id: site.id, tables: await tableRows(await site.orm(), REPLICATED) })),
  );
  const owners = await ownerIndex(harness);
  const entityTables = new Set(REPLICATED.map((name) => target.getMetadata().get(name).tableName));
  const problems: string[] = [];
  for (const [table, { rows }] of consumer) {
    const union = new Map<string, { site: string; row: string }>();
    for (const { id, tables } of sites) {
      for (const [key, row] of (tables.get(table) as TableRows).rows) {
        const other = union.get(key);
        if (other) problems.push(`${table} ${key}: in both ${other.site} and ${id}`);
        union.set(key, { site: id, row });
      }
    }
    const missing = [...union.keys()].filter((key) => !rows.has(key));
    const extra = [...rows.keys()].filter((key) => !union.has(key));
    const differ = [...union].filter(([key, { row }]) => rows.has(key) && rows.get(key) !== row);
    // Pivot rows have no owner of their own: their owner row's source covers them.
    const owned = entityTables.has(table);
    const misowned = [...union].filter(([key, { site }]) => owned && owners.get(`${table} ${key}`) !== site);
    if (missing.length) problems.push(`${table}: ${missing.length} rows missing, e.g. ${missing[0]}`);
    if (extra.length) problems.push(`${table}: ${extra.length} rows no source has, e.g. ${extra[0]}`);
    if (differ.length) problems.push(`${table}: ${differ.length} rows differ, e.g. ${differ[0]![0]}`);
    if (misowned.length)
      problems.push(`${table}: ${misowned.length} rows not owned by their source, e.g. ${misowned[0]![0]}`);
  }
  return problems;
}

/**
 * The consumer's row owners, keyed like tableRows keys them (`table` and the primary key values as a JSON array).
 * The owner table keeps one key column's value as its JSON text (see Applier.rowKey).
 */
async function ownerIndex(harness: StreamHarness): Promise<Map<string, string>> {
  const orm = await harness.targetOrm();
  const rows = await orm.em
    .getConnection()
    .execute<{ entity: string; pk: string; source: string }[]>('select entity, pk, source from oplog_row_owner');
  const index = new Map<string, string>();
  for (const { entity, pk, source } of rows) {
    const table = orm.getMetadata().get(entity).tableName;
    const parsed: unknown = JSON.parse(pk);
    index.set(`${table} ${JSON.stringify(Array.isArray(parsed) ? parsed : [parsed])}`, source);
  }
  return index;
}
