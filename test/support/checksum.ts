import { createHash } from 'node:crypto';
import type { MikroORM } from '@mikro-orm/core';

/**
 * A checksum per replicated table (including pivot tables), over every row in primary-key order, with values
 * normalized so that SQLite and PostgreSQL copies of the same data compare equal (dates as epoch ms).
 */
export async function tableChecksums(orm: MikroORM, entityNames: readonly string[]): Promise<Record<string, string>> {
  const connection = orm.em.getConnection();
  const out: Record<string, string> = {};
  const tables = new Map<string, { columns: string[]; dates: Set<string> }>();
  for (const name of entityNames) {
    const meta = orm.getMetadata().get(name);
    const dates = new Set(meta.props.filter((p) => p.runtimeType === 'Date').flatMap((p) => p.fieldNames ?? []));
    const columns = meta.props.flatMap((p) =>
      p.persist === false || p.kind === '1:m' || p.kind === 'm:n' ? [] : (p.fieldNames ?? []),
    );
    tables.set(meta.tableName, { columns, dates });
    for (const prop of meta.props) {
      if (prop.kind === 'm:n' && prop.owner && prop.pivotTable) {
        tables.set(prop.pivotTable, { columns: [...prop.joinColumns, ...prop.inverseJoinColumns], dates: new Set() });
      }
    }
  }
  for (const [table, { columns, dates }] of tables) {
    const rows = await connection.execute<Record<string, unknown>[]>(
      `select ${columns.join(', ')} from ${table} order by ${columns.join(', ')}`,
    );
    const hash = createHash('sha256');
    for (const row of rows) {
      hash.update(JSON.stringify(columns.map((c) => normalize(row[c], dates.has(c)))));
      hash.update('\n');
    }
    out[table] = `${rows.length}:${hash.digest('hex').slice(0, 16)}`;
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
