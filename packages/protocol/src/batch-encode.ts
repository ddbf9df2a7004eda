/**
 * An entry as the outbox stores it: pk, after-image and changed fields are JSON text already, and a database driver
 * may return the numbers as strings (PostgreSQL's bigint).
 */
export interface StoredEntry {
  seq: number | string;
  txId: string;
  epoch: number | string;
  entity: string;
  /** insert, update or delete, as capture writes it (not escaped again). */
  op: string;
  pk: string;
  after: string | null;
  changed: string | null;
}

/** The JSON array of some leading entries, and where it ends. */
export interface PackedEntries {
  json: string;
  /** How many leading entries the array holds. */
  count: number;
  /** It ends inside a transaction too big for one batch: the batch is `partial`, and its next part follows. */
  partial: boolean;
}

/**
 * Builds the `entries` of a batch from stored entries by concatenation: pk, after-image and changed are JSON text
 * already, so the hot path never parses and re-serializes them (the result is what `JSON.stringify` would give for
 * the OplogEntry, key for key). Takes entries while the text so far is within `maxBytes` (counted in characters, so
 * the last one taken may pass it), then ends at the last transaction boundary among them (`following` is the entry
 * after those given, if any); when the first transaction alone is larger, at the limit, as a partial batch.
 * `entries` must not be empty.
 */
export function packEntries(
  session: { source: string; incarnation: string },
  entries: readonly StoredEntry[],
  maxBytes: number,
  following: StoredEntry | undefined,
): PackedEntries {
  const prefix = `{"source":${JSON.stringify(session.source)},"incarnation":${JSON.stringify(session.incarnation)},"seq":`;
  const parts: string[] = [];
  /** How many entries the last complete transaction ends after (0: none complete yet). */
  let boundary = 0;
  let bytes = 2;
  for (let i = 0; i < entries.length && bytes <= maxBytes; i++) {
    const entry = entries[i]!;
    if (i > 0 && entry.txId !== entries[i - 1]!.txId) boundary = i;
    let json = `${prefix}${Number(entry.seq)},"txId":${JSON.stringify(entry.txId)},"epoch":${Number(entry.epoch)},"entity":${JSON.stringify(entry.entity)},"op":"${entry.op}","pk":${entry.pk}`;
    if (entry.after !== null) json += `,"after":${entry.after}`;
    if (entry.changed !== null) json += `,"changed":${entry.changed}`;
    json += '}';
    parts.push(json);
    bytes += json.length + 1;
  }
  const next = parts.length < entries.length ? entries[parts.length] : following;
  const cutInside = next !== undefined && next.txId === entries[parts.length - 1]!.txId;
  const count = cutInside && boundary > 0 ? boundary : parts.length;
  return { json: `[${parts.slice(0, count).join(',')}]`, count, partial: cutInside && boundary === 0 };
}

/** A batch frame around entries packed by packEntries: the same text `encodeFrame` gives for that batch. */
export function encodeBatch(id: number, entries: string, partial: boolean): string {
  return `{"type":"batch","id":${id},"entries":${entries}${partial ? ',"partial":true}' : '}'}`;
}
