import type { MikroORM } from '@mikro-orm/core';
import { OplogCapture, oplogEntities } from '@oplog/capture';
import { type DbConfig, openOrm } from '@oplog/runtime';
import { pollsEntities } from './entities.js';

/** The example local app: the polls entities, with capture installed (the two marked lines are all it takes). */
export async function openLocalApp(db: DbConfig): Promise<MikroORM> {
  const orm = await openOrm(db, {
    entities: [...pollsEntities, ...oplogEntities], // ← the outbox tables
    subscribers: [new OplogCapture()], // ← capture
  });
  await orm.schema.updateSchema({ safe: true });
  return orm;
}
