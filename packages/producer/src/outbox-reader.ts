import type { Connection } from '@mikro-orm/core';
import { OUTBOX_TABLES, readSourceHead, type SourceHead } from '@oplog/capture';
import { packEntries, type StoredEntry } from '@oplog/protocol';

export interface BatchLimits {
  maxEntries: number;
  maxBytes: number;
}

/** Entries ready to send: `json` is the JSON array of OplogEntry, built without parsing the stored JSON (packEntries). */
export interface OutboxBatch {
  json: string;
  count: number;
  lastSeq: number;
  lastEpoch: number;
  /** The batch ends inside a transaction too big for one batch; its next part follows. */
  partial: boolean;
  /** Entries after the batch were in the outbox already when it was read. */
  more: boolean;
}

const { entry: ENTRY } = OUTBOX_TABLES;
/** Named as protocol's StoredEntry, so that rows go to packEntries as they come. */
const COLUMNS = 'seq, tx_id as "txId", epoch, entity, op, pk, after_image as "after", changed';

/** Reads the outbox of one source database: its head, batches of whole transactions, and trims. */
export class OutboxReader {
  constructor(private readonly connection: Connection) {}

  head(): Promise<SourceHead | undefined> {
    return readSourceHead(this.connection);
  }

  async oldestSeq(): Promise<number | undefined> {
    const rows = await this.connection.execute<{ seq: number | string | null }[]>(
      `select min(seq) as seq from ${ENTRY}`,
    );
    const seq = rows[0]?.seq;
    return seq == null ? undefined : Number(seq);
  }

  /** The transaction of the entry at `seq`, or undefined when the outbox no longer (or never) held it. */
  async txIdAt(seq: number): Promise<string | undefined> {
    const rows = await this.connection.execute<{ tx_id: string }[]>(`select tx_id from ${ENTRY} where seq = ?`, [seq]);
    return rows[0]?.tx_id;
  }

  /**
   * The entries after `afterSeq`, up to `maxEntries` / `maxBytes`, ending on a transaction boundary. A single
   * transaction larger than that goes out in parts, the batch then `partial`.
   */
  async read(source: SourceHead, afterSeq: number, limits: BatchLimits): Promise<OutboxBatch | undefined> {
    const rows = await this.connection.execute<StoredEntry[]>(
      `select ${COLUMNS} from ${ENTRY} where seq > ? order by seq limit ?`,
      [afterSeq, limits.maxEntries + 1],
    );
    if (rows.length === 0) return undefined;
    const following = rows.length > limits.maxEntries ? rows.pop() : undefined;
    const session = { source: source.sourceId, incarnation: source.incarnation };
    const { json, count, partial } = packEntries(session, rows, limits.maxBytes, following);
    const last = rows[count - 1]!;
    return {
      json,
      count,
      lastSeq: Number(last.seq),
      lastEpoch: Number(last.epoch),
      partial,
      more: count < rows.length || following !== undefined,
    };
  }

  /** Deletes entries up to `seq` (acked ones), in chunks so that the app's writers never wait long. */
  async trim(seq: number, chunk = 5000): Promise<number> {
    let deleted = 0;
    for (;;) {
      const oldest = await this.oldestSeq();
      if (oldest === undefined || oldest > seq) return deleted;
      const upTo = Math.min(seq, oldest + chunk - 1);
      await this.connection.execute(`delete from ${ENTRY} where seq <= ?`, [upTo], 'run');
      deleted += upTo - oldest + 1;
    }
  }
}
