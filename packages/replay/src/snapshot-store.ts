import type { Connection, Transaction } from '@mikro-orm/core';
import type { Json, SnapshotProgress, SnapshotReason } from '@oplog/protocol';
import { TABLES } from './tables.js';

const { snapshot: STATE, snapshotRow: ROWS, rowOwner: OWNER_TABLE } = TABLES;

export interface StoredSnapshot extends SnapshotProgress {
  startedAt: number;
}

interface StateRow {
  source: string;
  incarnation: string;
  reason: string;
  entities: string;
  done: number | string;
  after_key: string | null;
  high_water: number | string;
  rows: number | string;
  total: number | string;
  started_at: number | string;
}

/** Every source's snapshot in progress, or only `source`'s. */
export async function loadSnapshots(connection: Connection, source?: string): Promise<Map<string, StoredSnapshot>> {
  const rows = await (source === undefined
    ? connection.execute<StateRow[]>(`select * from ${STATE}`)
    : connection.execute<StateRow[]>(`select * from ${STATE} where source = ?`, [source]));
  return new Map(
    rows.map((row: StateRow) => [
      row.source,
      {
        incarnation: row.incarnation,
        reason: row.reason as SnapshotReason,
        entities: JSON.parse(row.entities) as string[],
        done: Number(row.done),
        after: row.after_key === null ? null : (JSON.parse(row.after_key) as Record<string, Json>),
        highWater: Number(row.high_water),
        rows: Number(row.rows),
        total: Number(row.total),
        startedAt: Number(row.started_at),
      },
    ]),
  );
}

/** Stores a snapshot's progress, or removes it when the snapshot is over. */
export async function saveSnapshot(
  connection: Connection,
  trx: Transaction,
  source: string,
  progress: StoredSnapshot | undefined,
): Promise<void> {
  if (!progress) {
    await connection.execute(`delete from ${STATE} where source = ?`, [source], 'run', trx);
    return;
  }
  await connection.execute(
    `insert into ${STATE} (source, incarnation, reason, entities, done, after_key, high_water, rows, total, started_at)
     values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
     on conflict (source) do update set incarnation = excluded.incarnation, reason = excluded.reason,
       entities = excluded.entities, done = excluded.done, after_key = excluded.after_key,
       high_water = excluded.high_water, rows = excluded.rows, total = excluded.total, started_at = excluded.started_at`,
    [
      source,
      progress.incarnation,
      progress.reason,
      JSON.stringify(progress.entities),
      progress.done,
      progress.after === null ? null : JSON.stringify(progress.after),
      progress.highWater,
      progress.rows,
      progress.total,
      progress.startedAt,
    ],
    'run',
    trx,
  );
}

// Three or four parameters a row: far below SQLite's and PostgreSQL's limits on bound parameters.
const CHUNK = 500;

/** The staged rows of a source, read and written by key while its snapshot runs. */
export class StagingArea {
  constructor(
    private readonly connection: Connection,
    private readonly trx: Transaction,
    private readonly source: string,
  ) {}

  clear(): Promise<unknown> {
    return this.#run(`delete from ${ROWS} where source = ?`, [this.source]);
  }

  async put(entity: string, rows: readonly (readonly [key: string, image: string])[]): Promise<void> {
    for (let i = 0; i < rows.length; i += CHUNK) {
      const chunk = rows.slice(i, i + CHUNK);
      await this.#run(
        `insert into ${ROWS} (source, entity, pk_key, image) values ${chunk.map(() => '(?, ?, ?, ?)').join(', ')}
         on conflict (source, entity, pk_key) do update set image = excluded.image`,
        chunk.flatMap(([key, image]) => [this.source, entity, key, image]),
      );
    }
  }

  async remove(entity: string, keys: readonly string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += CHUNK) {
      const chunk = keys.slice(i, i + CHUNK);
      await this.#run(`delete from ${ROWS} where source = ? and entity = ? and pk_key in (${marks(chunk.length)})`, [
        this.source,
        entity,
        ...chunk,
      ]);
    }
  }

  async get(entity: string, keys: readonly string[]): Promise<Map<string, string>> {
    const found = new Map<string, string>();
    for (let i = 0; i < keys.length; i += CHUNK) {
      const chunk = keys.slice(i, i + CHUNK);
      const rows = await this.#all<{ pk_key: string; image: string }>(
        `select pk_key, image from ${ROWS} where source = ? and entity = ? and pk_key in (${marks(chunk.length)})`,
        [this.source, entity, ...chunk],
      );
      for (const row of rows) found.set(row.pk_key, row.image);
    }
    return found;
  }

  /** Staged rows of an entity after `afterKey`, in key order. */
  page(entity: string, afterKey: string, limit: number): Promise<{ pk_key: string; image: string }[]> {
    return this.#all(
      `select pk_key, image from ${ROWS} where source = ? and entity = ? and pk_key > ? order by pk_key limit ?`,
      [this.source, entity, afterKey, limit],
    );
  }

  /** Keys of rows this source owns in the entity that the snapshot does not have: the source deleted them. */
  async vanished(entity: string, limit: number): Promise<string[]> {
    const rows = await this.#all<{ pk: string }>(
      `select o.pk from ${OWNER_TABLE} o where o.source = ? and o.entity = ? and not exists
         (select 1 from ${ROWS} s where s.source = o.source and s.entity = o.entity and s.pk_key = o.pk)
       limit ?`,
      [this.source, entity, limit],
    );
    return rows.map((row) => row.pk);
  }

  #run(sql: string, params: unknown[]): Promise<unknown> {
    return this.connection.execute(sql, params, 'run', this.trx);
  }

  #all<T>(sql: string, params: unknown[]): Promise<T[]> {
    return this.connection.execute<T[]>(sql, params, 'all', this.trx);
  }
}

function marks(count: number): string {
  return Array(count).fill('?').join(', ');
}
