import { EntitySchema } from '@mikro-orm/core';

/**
 * The tables the replay keeps beside the replicated data, all in this one module: the stores read and write them
 * by these names, and `replayEntities` adds them to the center's ORM (they are never captured or replicated).
 */
export const TABLES = {
  cursor: 'oplog_consumer_cursor',
  rowOwner: 'oplog_row_owner',
  snapshot: 'oplog_snapshot',
  snapshotRow: 'oplog_snapshot_row',
  quarantine: 'oplog_quarantine',
  openEntry: 'oplog_open_entry',
  /** SQLite's center lock; created by the lock itself, outside the ORM (see center-lock-sqlite.ts). */
  lease: 'oplog_consumer_lease',
} as const;

/** One row per source: what is durably applied, committed in the same transaction as the data. */
export interface OplogCursorRow {
  source: string;
  incarnation: string;
  seq: number;
  epoch: number;
  txId: string | null;
  /** JSON list of the entities whose rows are complete here (see SourceRecord.covered). */
  entities: string;
  headSeq: number;
  headEpoch: number;
  updatedAt: number;
  /** Bumped by every write: a write expects the version it read (see cursor-guard.ts). */
  version: number;
}

export const OplogCursor = new EntitySchema<OplogCursorRow>({
  name: 'OplogCursor',
  tableName: TABLES.cursor,
  properties: {
    source: { type: 'string', length: 64, primary: true },
    incarnation: { type: 'string', length: 64 },
    seq: { type: 'bigint' },
    epoch: { type: 'bigint' },
    txId: { type: 'string', length: 64, fieldName: 'tx_id', nullable: true },
    entities: { type: 'text', default: '[]' },
    headSeq: { type: 'bigint', fieldName: 'head_seq' },
    headEpoch: { type: 'bigint', fieldName: 'head_epoch' },
    updatedAt: { type: 'bigint', fieldName: 'updated_at' },
    // A default, so that updateSchema can add it to the table of a consumer that predates it.
    version: { type: 'bigint', default: 0 },
  },
});

/**
 * Which source created each replicated row, by entity and primary key: another source may not update or delete
 * it, and a full resync deletes the rows its source no longer has.
 */
export interface RowOwnerRow {
  entity: string;
  /** The primary key's canonical text (see Applier.rowKey). */
  pk: string;
  source: string;
}

export const OplogRowOwner = new EntitySchema<RowOwnerRow>({
  name: 'OplogRowOwner',
  tableName: TABLES.rowOwner,
  properties: {
    entity: { type: 'string', length: 128, primary: true },
    pk: { type: 'string', length: 512, primary: true },
    source: { type: 'string', length: 64 },
  },
  indexes: [{ properties: ['source', 'entity'] }],
});

/** A snapshot in progress, one row per source, committed with every page so that it resumes after a crash. */
export interface SnapshotStateRow {
  source: string;
  incarnation: string;
  reason: string;
  entities: string;
  done: number;
  afterKey: string | null;
  highWater: number;
  rows: number;
  total: number;
  startedAt: number;
}

/** A staged row: the source's current image of it while the snapshot runs (pages, then the log, write here). */
export interface SnapshotRowRow {
  source: string;
  entity: string;
  pkKey: string;
  image: string;
}

export const OplogSnapshotState = new EntitySchema<SnapshotStateRow>({
  name: 'OplogSnapshotState',
  tableName: TABLES.snapshot,
  properties: {
    source: { type: 'string', length: 64, primary: true },
    incarnation: { type: 'string', length: 64 },
    reason: { type: 'string', length: 32 },
    entities: { type: 'text' },
    done: { type: 'integer' },
    afterKey: { type: 'text', fieldName: 'after_key', nullable: true },
    highWater: { type: 'bigint', fieldName: 'high_water' },
    rows: { type: 'bigint' },
    total: { type: 'bigint' },
    startedAt: { type: 'bigint', fieldName: 'started_at' },
  },
});

export const OplogSnapshotRow = new EntitySchema<SnapshotRowRow>({
  name: 'OplogSnapshotRow',
  tableName: TABLES.snapshotRow,
  properties: {
    source: { type: 'string', length: 64, primary: true },
    entity: { type: 'string', length: 128, primary: true },
    pkKey: { type: 'string', length: 512, primary: true, fieldName: 'pk_key' },
    image: { type: 'text' },
  },
});

/** A source transaction the consumer could not apply, parked instead of halting its source (poison: quarantine). */
export interface QuarantineRow {
  source: string;
  seq: number;
  txId: string;
  entity: string;
  op: string;
  /** The whole entry, as JSON: enough to apply it by hand once the cause is fixed. */
  entry: string;
  code: string;
  error: string;
  at: number;
}

export const OplogQuarantine = new EntitySchema<QuarantineRow>({
  name: 'OplogQuarantine',
  tableName: TABLES.quarantine,
  properties: {
    source: { type: 'string', length: 64, primary: true },
    seq: { type: 'bigint', primary: true },
    txId: { type: 'string', length: 64, fieldName: 'tx_id' },
    entity: { type: 'string', length: 128 },
    op: { type: 'string', length: 6 },
    entry: { type: 'text' },
    code: { type: 'string', length: 64 },
    error: { type: 'text' },
    at: { type: 'bigint' },
  },
});

/**
 * A part of a source transaction too big for one batch, received and not applied yet. Parts are staged durably, in
 * their own steps, so that a transaction of a million changes never sits in the consumer's memory; the step that
 * receives the last part applies them all, in pages, in its one transaction, and empties the staging.
 */
export interface OpenEntryRow {
  source: string;
  seq: number;
  /** The whole entry, as JSON. */
  entry: string;
}

export const OplogOpenEntry = new EntitySchema<OpenEntryRow>({
  name: 'OplogOpenEntry',
  tableName: TABLES.openEntry,
  properties: {
    source: { type: 'string', length: 64, primary: true },
    seq: { type: 'bigint', primary: true },
    entry: { type: 'text' },
  },
});

/** The replay's tables, to add to the center's ORM entities. */
export const replayEntities = [
  OplogCursor,
  OplogRowOwner,
  OplogSnapshotState,
  OplogSnapshotRow,
  OplogQuarantine,
  OplogOpenEntry,
];
