import type { EntityManager, EntityMetadata } from '@mikro-orm/core';
import type { Json } from '@oplog/protocol';

/**
 * The row as the ORM sees it after the write, keyed by property name, with relations as primary keys.
 * The comparator's snapshot is the same data MikroORM diffs against, so it is platform-neutral and complete.
 */
export function afterImage(em: EntityManager, entity: object): Record<string, Json> {
  return em.getComparator().prepareEntity(entity) as Record<string, Json>;
}

export function primaryKeyOf(meta: EntityMetadata, image: Record<string, Json>): Record<string, Json> {
  const pk: Record<string, Json> = {};
  for (const name of meta.primaryKeys) pk[name as string] = image[name as string] ?? null;
  return pk;
}
