import { EntitySchema } from '@mikro-orm/core';

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

export const OWNER_TABLE = 'oplog_row_owner';

export const OplogRowOwner = new EntitySchema<RowOwnerRow>({
  name: 'OplogRowOwner',
  tableName: OWNER_TABLE,
  properties: {
    entity: { type: 'string', length: 128, primary: true },
    pk: { type: 'string', length: 512, primary: true },
    source: { type: 'string', length: 64 },
  },
  indexes: [{ properties: ['source', 'entity'] }],
});

const list = (count: number) => Array(count).fill('?').join(', ');

/** Rows among `count` keys of an entity that belong to a source other than the given one. Params: entity, source, keys. */
export function foreignOwnersSql(count: number): string {
  return `select pk, source from ${OWNER_TABLE} where entity = ? and source <> ? and pk in (${list(count)})`;
}

/**
 * Records the given source as owner of `count` rows it writes; already owned ones stay as they are. Returns the
 * keys it newly recorded. Params: entity, pk, source per row.
 */
export function claimSql(count: number): string {
  return `insert into ${OWNER_TABLE} (entity, pk, source) values ${Array(count).fill('(?, ?, ?)').join(', ')} on conflict (entity, pk) do nothing returning pk`;
}

/** Forgets `count` rows the source deleted. Params: entity, source, keys. */
export function releaseSql(count: number): string {
  return `delete from ${OWNER_TABLE} where entity = ? and source = ? and pk in (${list(count)})`;
}
