import type { MikroORM } from '@mikro-orm/core';
import { countRows, readSnapshotPage, type SnapshotRows } from '@oplog/capture';
import type { Json } from '@oplog/protocol';

/** Reads a source's rows for a snapshot the consumer asked for: counts, then keyset pages with their head. */
export class SnapshotReader {
  constructor(private readonly orm: MikroORM) {}

  count(entities: readonly string[], after: Record<string, Json> | null): Promise<number> {
    return countRows(this.orm.em, entities, after);
  }

  page(entity: string, after: Record<string, Json> | null, limit: number): Promise<SnapshotRows> {
    return readSnapshotPage(this.orm.em, entity, after, limit);
  }
}
