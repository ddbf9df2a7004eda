import { createHash } from 'node:crypto';
import type { MikroORM } from '@mikro-orm/core';

/** Every row of one table: primary key (as JSON) → the whole row (as a JSON array of `columns`), normalized, in a stable order. */
export interface TableRows {
  columns: string[];
  rows: Map<string, string>;
}

/**
 * A checksum per replicated table (including pivot tables), over every row in primary-key order, with values
 * normalized so that SQLite and PostgreSQL copies of the same data compare equal (dates as epoch ms).
 */
export async function tableChecksums(orm: MikroORM, entityNames: readonly string[]): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [table, { rows }] of await tableRows(orm, entityNames)) out[table] = checksum(rows.values());
  return out;
}

/** `count:hash` of normalized rows, in the order given. */
export function checksum(rows: Iterable<string>): string {
  const hash = createHash('sha256');
  let count = 0;
  for (const row of rows) {
    hash.update(row);
    hash.update('\n');
    count++;
  }
  return `${count}:${hash.digest('hex').slice(0, 16)}`;
}

/** The rows of every replicated table (and pivot table), keyed by table name, normalized as for tableChecksums. */
export async function tableRows(orm: MikroORM, entityNames: readonly string[]): Promise<Map<string, TableRows>> {
  const connection = orm.em.getConnection();
  const out = new Map<string, TableRows>();
  const tables = new Map<string, { columns: string[]; keys: string[]; dates: Set<string> }>();
  for (const name of entityNames) {
    const meta = orm.getMetadata().get(name);
    const dates = new Set(meta.props.filter((p) => p.runtimeType === 'Date').flatMap((p) => p.fieldNames ?? []));
    const columns = meta.props.flatMap((p) =>
      p.persist === false || p.kind === '1:m' || p.kind === 'm:n' ? [] : (p.fieldNames ?? []),
    );
    const keys = meta.getPrimaryProps().flatMap((p) => p.fieldNames ?? []);
    tables.set(meta.tableName, { columns, keys, dates });
    for (const prop of meta.props) {
      if (prop.kind === 'm:n' && prop.owner && prop.pivotTable) {
        const pivot = [...prop.joinColumns, ...prop.inverseJoinColumns];
        tables.set(prop.pivotTable, { columns: pivot, keys: pivot, dates: new Set() });
      }
    }
  }
  for (const [table, { columns, keys, dates }] of tables) {
    const rows = await connection.execute<Record<string, unknown>[]>(
      `select ${columns.join(', ')} from ${table} order by ${columns.join(', ')}`,
    );
    const byKey = new Map<string, string>();
    for (const row of rows) {
      const values = columns.map((c) => normalize(row[c], dates.has(c)));
      byKey.set(JSON.stringify(keys.map((k) => values[columns.indexOf(k)])), JSON.stringify(values));
    }
    out.set(table, { columns, rows: byKey });
  }
  return out;
}

function normalize(value: unknown, isDate: boolean): unknown {
  if (value === null || value === undefined) return null;
  if (isDate)
    return value instanceof Date
      ? value.getTime()
      : typeof value === 'string' && !/^\d+$/.test(value)
        ? Date.parse(value)
        : Number(value);
  if (typeof value === 'bigint') return String(value);
  if (typeof value === 'number' || typeof value === 'boolean') return value;
  return String(value);
}
