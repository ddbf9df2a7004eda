import type { EntityManager, EntityMetadata } from '@mikro-orm/core';
import type { Json } from '@oplog/protocol';

/**
 * The row as the ORM sees it after the write, keyed by property name, with relations as primary keys: the
 * comparator's snapshot, the same complete data MikroORM diffs against. Its values are the platform's (a datetime is
 * epoch ms on SQLite, an ISO string once a PostgreSQL Date is JSON), so replay converts them by the target's metadata.
 */
export function afterImage(em: EntityManager, entity: object): Record<string, Json> {
  return em.getComparator().prepareEntity(entity) as Record<string, Json>;
}

export function primaryKeyOf(meta: EntityMetadata, image: Record<string, Json>): Record<string, Json> {
  const pk: Record<string, Json> = {};
  for (const name of meta.primaryKeys) pk[name as string] = image[name as string] ?? null;
  return pk;
}
