import { EntitySchema } from '@mikro-orm/core';

/** The outbox's state: one row (slot 1) holding the source identity and the head of the log. */
export interface OplogSourceRow {
  slot: number;
  sourceId: string;
  incarnation: string;
  headSeq: number;
  headEpoch: number;
  createdAt: number;
}

/** One captured change, as stored until the consumer acks it and the producer trims it. */
export interface OplogEntryRow {
  seq: number;
  txId: string;
  epoch: number;
  entity: string;
  op: string;
  pk: string;
  after: string | null;
  changed: string | null;
}

export const OUTBOX_TABLES = { source: 'oplog_source', entry: 'oplog_entry' } as const;

export const OplogSource = new EntitySchema<OplogSourceRow>({
  name: 'OplogSource',
  tableName: OUTBOX_TABLES.source,
  properties: {
    slot: { type: 'integer', primary: true, autoincrement: false },
    sourceId: { type: 'string', length: 32, fieldName: 'source_id' },
    incarnation: { type: 'string', length: 32 },
    headSeq: { type: 'bigint', fieldName: 'head_seq' },
    headEpoch: { type: 'bigint', fieldName: 'head_epoch' },
    createdAt: { type: 'bigint', fieldName: 'created_at' },
  },
});

export const OplogEntryTable = new EntitySchema<OplogEntryRow>({
  name: 'OplogEntry',
  tableName: OUTBOX_TABLES.entry,
  properties: {
    seq: { type: 'bigint', primary: true, autoincrement: false },
    txId: { type: 'string', length: 32, fieldName: 'tx_id' },
    epoch: { type: 'bigint' },
    entity: { type: 'string', length: 128 },
    op: { type: 'string', length: 6 },
    pk: { type: 'text' },
    after: { type: 'text', nullable: true, fieldName: 'after_image' },
    changed: { type: 'text', nullable: true },
  },
});

/**
 * Add these to your MikroORM `entities` so that your schema generator or migrations create the outbox tables
 * next to your own (`oplog-producer schema sql` prints their DDL, and on PostgreSQL the sidecar's trigger). They
 * never replicate.
 */
export const oplogEntities = [OplogSource, OplogEntryTable];
export const OUTBOX_ENTITY_NAMES: ReadonlySet<string> = new Set(oplogEntities.map((e) => e.meta.className));
