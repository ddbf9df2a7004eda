import type { Connection } from '@mikro-orm/core';
import { OUTBOX_TABLES, readSourceHead, type SourceHead } from '@oplog/capture';

export interface BatchLimits {
  maxEntries: number;
  maxBytes: number;
}

/** Entries ready to send: `json` is the JSON array of OplogEntry, built without parsing the stored JSON. */
export interface OutboxBatch {
  json: string;
  count: number;
  lastSeq: number;
  lastEpoch: number;
}

interface EntryRow {
  seq: number | string;
  tx_id: string;
  epoch: number | string;
  entity: string;
  op: string;
  pk: string;
  after_image: string | null;
  changed: string | null;
}

const { entry: ENTRY } = OUTBOX_TABLES;
const COLUMNS = 'seq, tx_id, epoch, entity, op, pk, after_image, changed';

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
   * The entries after `afterSeq`, ending on a transaction boundary: up to `maxEntries` / `maxBytes`, except that a
   * single transaction larger than that is sent whole.
   */
  async read(source: SourceHead, afterSeq: number, limits: BatchLimits): Promise<OutboxBatch | undefined> {
    let rows = await this.connection.execute<EntryRow[]>(
      `select ${COLUMNS} from ${ENTRY} where seq > ? order by seq limit ?`,
      [afterSeq, limits.maxEntries + 1],
    );
    if (rows.length === 0) return undefined;
    if (rows.length > limits.maxEntries) {
      const next = rows.pop()!;
      const whole = rows.filter((row: EntryRow) => row.tx_id !== next.tx_id);
      rows = whole.length > 0 ? whole : await this.#wholeTransaction(afterSeq, next.tx_id);
    }
    return encode(source, rows, limits.maxBytes);
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

  async #wholeTransaction(afterSeq: number, txId: string): Promise<EntryRow[]> {
    return this.connection.execute<EntryRow[]>(
      `select ${COLUMNS} from ${ENTRY} where seq > ? and seq <= (select max(seq) from ${ENTRY} where tx_id = ?) order by seq`,
      [afterSeq, txId],
    );
  }
}

/**
 * Builds the JSON by concatenation: pk, after-image and changed are stored as JSON text already, so the hot
 * path never parses and re-serializes them. Stops at the first transaction boundary past `maxBytes`.
 */
function encode(source: SourceHead, rows: EntryRow[], maxBytes: number): OutboxBatch {
  const prefix = `{"source":${JSON.stringify(source.sourceId)},"incarnation":${JSON.stringify(source.incarnation)},"seq":`;
  const parts: string[] = [];
  let bytes = 2;
  let last = rows[0]!;
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]!;
    if (bytes > maxBytes && row.tx_id !== last.tx_id) break;
    let json = `${prefix}${Number(row.seq)},"txId":${JSON.stringify(row.tx_id)},"epoch":${Number(row.epoch)},"entity":${JSON.stringify(row.entity)},"op":"${row.op}","pk":${row.pk}`;
    if (row.after_image !== null) json += `,"after":${row.after_image}`;
    if (row.changed !== null) json += `,"changed":${row.changed}`;
    json += '}';
    parts.push(json);
    bytes += json.length + 1;
    last = row;
  }
  return {
    json: `[${parts.join(',')}]`,
    count: parts.length,
    lastSeq: Number(last.seq),
    lastEpoch: Number(last.epoch),
  };
}
