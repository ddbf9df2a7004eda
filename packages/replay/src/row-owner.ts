import { TABLES } from './tables.js';

const OWNER_TABLE = TABLES.rowOwner;

/** The ownership table's statements on one platform. Each list of keys is one parameter: a JSON array of strings. */
export interface OwnerSql {
  /**
   * Records the source as owner of the keys it does not own yet, and fails (NOT NULL) when another source owns one:
   * its row would be set to a null owner. So a step never needs the statement's result, and can go as one script.
   * Params: entity, source, keys.
   */
  claim: string;
  /**
   * Fails (NOT NULL) when another source owns one of the keys: the rows a change points at must be its source's own.
   * Params: entity, source, keys.
   */
  refer: string;
  /** Forgets the keys the source deleted. Params: entity, source, keys. */
  release: string;
  /** After a failed step, the rows among the keys of an entity that belong to another source. Params: entity, source, keys. */
  foreignOwners: string;
}

export function ownerSql(postgres: boolean): OwnerSql {
  // One parameter however many keys: a statement's text and parse cost no longer grow with the rows.
  const keys = postgres
    ? 'select value from json_array_elements_text(cast(? as json))'
    : 'select value from json_each(?)';
  return {
    // SQLite needs the WHERE to tell the upsert's ON CONFLICT from a join's ON.
    claim: `insert into ${OWNER_TABLE} (entity, pk, source) select ?, value, ? from (${keys}) k where true on conflict (entity, pk) do update set source = null where ${OWNER_TABLE}.source <> excluded.source`,
    // A row key is JSON text, never empty: the row this would insert cannot exist, so only its null source fails.
    refer: `insert into ${OWNER_TABLE} (entity, pk, source) select '', '', null where exists (select 1 from ${OWNER_TABLE} where entity = ? and source <> ? and pk in (${keys}))`,
    release: `delete from ${OWNER_TABLE} where entity = ? and source = ? and pk in (${keys})`,
    foreignOwners: `select pk, source from ${OWNER_TABLE} where entity = ? and source <> ? and pk in (${keys}) limit 1`,
  };
}
