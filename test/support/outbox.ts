import type { MikroORM } from '@mikro-orm/core';
import { readSourceHead } from '@oplog/capture';
import { OutboxReader } from '@oplog/producer';
import { decodeProducerFrame, type OplogEntry } from '@oplog/protocol';

/**
 * A source's outbox after `afterSeq`, exactly as a consumer receives it: read by the producer's OutboxReader and
 * decoded from a batch frame.
 */
export async function outboxEntries(orm: MikroORM, afterSeq = 0): Promise<OplogEntry[]> {
  const connection = orm.em.getConnection();
  const head = await readSourceHead(connection);
  if (!head) return [];
  const batch = await new OutboxReader(connection).read(head, afterSeq, {
    maxEntries: 1_000_000_000,
    maxBytes: Number.POSITIVE_INFINITY,
  });
  if (!batch) return [];
  const frame = decodeProducerFrame(`{"type":"batch","id":1,"entries":${batch.json}}`);
  if (frame.type !== 'batch') throw new Error('expected a batch');
  return frame.entries;
}
