import {
  type EntityManager,
  type EntityMetadata,
  IsolationLevel,
  LoadStrategy,
  ReferenceKind,
  type Transaction,
} from '@mikro-orm/core';
import type { Json } from '@oplog/protocol';
import { afterImage, primaryKeyOf } from './image.js';
import { readSourceHead, type SourceHead } from './outbox-writer.js';
import { onPostgres } from './platform.js';

/** One keyset page of an entity's rows, as capture images, and the outbox head they are consistent with. */
export interface SnapshotRows {
  rows: Record<string, Json>[];
  /** The primary key of the last row; null when the page is empty. */
  after: Record<string, Json> | null;
  head: SourceHead;
}

/**
 * Reads up to `limit` rows of `entityName` after the primary key `after`, in primary key order, together with the
 * outbox head, in one transaction: the rows are the entity's state at that head. PostgreSQL reads at REPEATABLE
 * READ so that both queries see one snapshot; a SQLite transaction is serializable anyway. Owned many-to-many
 * collections are loaded and recorded as key lists, exactly as capture records them.
 */
export async function readSnapshotPage(
  em: EntityManager,
  entityName: string,
  after: Record<string, Json> | null,
  limit: number,
): Promise<SnapshotRows> {
  const meta = em.getMetadata().get(entityName);
  const collections = meta.props.filter((p) => p.kind === ReferenceKind.MANY_TO_MANY && p.owner).map((p) => p.name);
  const postgres = onPostgres(em.getPlatform());
  return em.fork({ clear: true }).transactional(
    async (tx) => {
      const head = (await readSourceHead(tx.getConnection('write'), tx.getTransactionContext<Transaction>()))!;
      const entities = await tx.find(entityName, after ? keysetAfter(meta, after) : {}, {
        orderBy: Object.fromEntries(meta.primaryKeys.map((name) => [name, 'asc'])),
        limit,
        populate: collections as never[],
        strategy: LoadStrategy.SELECT_IN,
      });
      const rows = entities.map((entity) => {
        const image = afterImage(tx, entity);
        for (const name of collections) {
          image[name] = (entity as Record<string, { getIdentifiers(): Json }>)[name]!.getIdentifiers();
        }
        return image;
      });
      const last = rows.at(-1);
      return { rows, after: last ? primaryKeyOf(meta, last) : null, head };
    },
    postgres ? { isolationLevel: IsolationLevel.REPEATABLE_READ, readOnly: true } : {},
  );
}

/** How many rows a snapshot of these entities has left to read, the first one resuming after `after`. */
export async function countRows(
  em: EntityManager,
  entityNames: readonly string[],
  after: Record<string, Json> | null,
): Promise<number> {
  const fork = em.fork({ clear: true });
  let total = 0;
  for (const [i, name] of entityNames.entries()) {
    total += await fork.count(name, i === 0 && after ? keysetAfter(fork.getMetadata().get(name), after) : {});
  }
  return total;
}

/** `(k1, k2, …) > (v1, v2, …)` spelled as a filter: k1 > v1, or k1 = v1 and k2 > v2, and so on. */
function keysetAfter(meta: EntityMetadata, after: Record<string, Json>): object {
  const keys = meta.primaryKeys as string[];
  const branches = keys.map((key, i) => ({
    ...Object.fromEntries(keys.slice(0, i).map((k) => [k, after[k]])),
    [key]: { $gt: after[key] },
  }));
  return branches.length === 1 ? branches[0]! : { $or: branches };
}
