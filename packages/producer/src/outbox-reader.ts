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
  /** The batch ends inside a transaction too big for one batch; its next part follows. */
  partial: boolean;
  /** Entries after the batch were in the outbox already when it was read. */
  more: boolean;
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
   * The entries after `afterSeq`, up to `maxEntries` / `maxBytes`, ending on a transaction boundary. A single
   * transaction larger than that goes out in parts, the batch then `partial`.
   */
  async read(source: SourceHead, afterSeq: number, limits: BatchLimits): Promise<OutboxBatch | undefined> {
    const rows = await this.connection.execute<EntryRow[]>(
      `select ${COLUMNS} from ${ENTRY} where seq > ? order by seq limit ?`,
      [afterSeq, limits.maxEntries + 1],
    );
    if (rows.length === 0) return undefined;
    const following = rows.length > limits.maxEntries ? rows.pop() : undefined;
    return encode(source, rows, limits.maxBytes, following);
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

/**
 * Builds the JSON by concatenation: pk, after-image and changed are stored as JSON text already, so the hot
 * path never parses and re-serializes them. Ends at the last transaction boundary within `maxBytes` and the rows
 * given (`following` is the row after them, if any); when the first transaction alone is larger, at the limit.
 */
function encode(source: SourceHead, rows: EntryRow[], maxBytes: number, following: EntryRow | undefined): OutboxBatch {
  const prefix = `{"source":${JSON.stringify(source.sourceId)},"incarnation":${JSON.stringify(source.incarnation)},"seq":`;
  const parts: string[] = [];
  /** How many rows the last complete transaction ends after (0: none complete yet). */
  let boundary = 0;
  let bytes = 2;
  for (let i = 0; i < rows.length && bytes <= maxBytes; i++) {
    const row = rows[i]!;
    if (i > 0 && row.tx_id !== rows[i - 1]!.tx_id) boundary = i;
    let json = `${prefix}${Number(row.seq)},"txId":${JSON.stringify(row.tx_id)},"epoch":${Number(row.epoch)},"entity":${JSON.stringify(row.entity)},"op":"${row.op}","pk":${row.pk}`;
    if (row.after_image !== null) json += `,"after":${row.after_image}`;
    if (row.changed !== null) json += `,"changed":${row.changed}`;
    json += '}';
    parts.push(json);
    bytes += json.length + 1;
  }
  const next = parts.length < rows.length ? rows[parts.length] : following;
  const cutInside = next !== undefined && next.tx_id === rows[parts.length - 1]!.tx_id;
  const count = cutInside && boundary > 0 ? boundary : parts.length;
  const last = rows[count - 1]!;
  return {
    json: `[${parts.slice(0, count).join(',')}]`,
    count,
    lastSeq: Number(last.seq),
    lastEpoch: Number(last.epoch),
    partial: cutInside && boundary === 0,
    more: count < rows.length || following !== undefined,
  };
}
