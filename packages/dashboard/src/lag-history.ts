import { type Connection, EntitySchema } from '@mikro-orm/core';
import type { HistoryPoint } from './source-lag.js';

/** One reading of one source's lag; the dashboard's chart reads these, so a restart keeps the last hour. */
export interface LagSampleRow {
  source: string;
  at: number;
  lagChanges: number;
  lagMs: number;
}

const TABLE = 'oplog_lag_sample';

export const OplogLagSample = new EntitySchema<LagSampleRow>({
  name: 'OplogLagSample',
  tableName: TABLE,
  properties: {
    source: { type: 'string', length: 64, primary: true },
    at: { type: 'bigint', primary: true },
    lagChanges: { type: 'bigint', fieldName: 'lag_changes' },
    lagMs: { type: 'bigint', fieldName: 'lag_ms' },
  },
  indexes: [{ properties: ['at'] }],
});

// Four parameters a row: 200 rows stay far below SQLite's and PostgreSQL's limits on bound parameters.
const ROWS_PER_INSERT = 200;

export async function saveLagSamples(connection: Connection, samples: readonly LagSampleRow[]): Promise<void> {
  for (let i = 0; i < samples.length; i += ROWS_PER_INSERT) {
    const chunk = samples.slice(i, i + ROWS_PER_INSERT);
    await connection.execute(
      `insert into ${TABLE} (source, at, lag_changes, lag_ms) values ${chunk.map(() => '(?, ?, ?, ?)').join(', ')}
       on conflict (source, at) do nothing`,
      chunk.flatMap((s) => [s.source, s.at, s.lagChanges, s.lagMs]),
      'run',
    );
  }
}

/** Deletes the samples older than `before` (epoch ms). */
export async function pruneLagSamples(connection: Connection, before: number): Promise<void> {
  await connection.execute(`delete from ${TABLE} where at < ?`, [before], 'run');
}

interface Row {
  at: number | string;
  lag_changes: number | string;
  lag_ms: number | string;
}

/**
 * The samples since `since`, oldest first: one source's, or without `source` the total over all sources at each
 * sampling time (changes summed, the worst lag in time).
 */
export async function loadLagHistory(connection: Connection, since: number, source?: string): Promise<HistoryPoint[]> {
  const rows =
    source === undefined
      ? await connection.execute<Row[]>(
          `select at, sum(lag_changes) as lag_changes, max(lag_ms) as lag_ms from ${TABLE} where at >= ?
           group by at order by at`,
          [since],
        )
      : await connection.execute<Row[]>(
          `select at, lag_changes, lag_ms from ${TABLE} where source = ? and at >= ? order by at`,
          [source, since],
        );
  return rows.map((row: Row) => [Number(row.at), Number(row.lag_changes), Number(row.lag_ms)]);
}
