import { type Connection, EntitySchema, type Transaction } from '@mikro-orm/core';
import type { OplogEntry, OplogError } from '@oplog/protocol';

/** A source transaction the consumer could not apply, parked instead of halting its source (poison: quarantine). */
export interface QuarantineRow {
  source: string;
  seq: number;
  txId: string;
  entity: string;
  op: string;
  /** The whole entry, as JSON: enough to apply it by hand once the cause is fixed. */
  entry: string;
  code: string;
  error: string;
  at: number;
}

const TABLE = 'oplog_quarantine';

export const OplogQuarantine = new EntitySchema<QuarantineRow>({
  name: 'OplogQuarantine',
  tableName: TABLE,
  properties: {
    source: { type: 'string', length: 64, primary: true },
    seq: { type: 'bigint', primary: true },
    txId: { type: 'string', length: 64, fieldName: 'tx_id' },
    entity: { type: 'string', length: 128 },
    op: { type: 'string', length: 6 },
    entry: { type: 'text' },
    code: { type: 'string', length: 64 },
    error: { type: 'text' },
    at: { type: 'bigint' },
  },
});

// Nine parameters a row: far below SQLite's and PostgreSQL's limits on bound parameters.
const CHUNK = 200;

export async function quarantine(
  connection: Connection,
  trx: Transaction,
  source: string,
  entries: readonly OplogEntry[],
  error: OplogError,
  at = Date.now(),
): Promise<void> {
  for (let i = 0; i < entries.length; i += CHUNK) {
    const chunk = entries.slice(i, i + CHUNK);
    await connection.execute(
      `insert into ${TABLE} (source, seq, tx_id, entity, op, entry, code, error, at) values ${chunk.map(() => '(?, ?, ?, ?, ?, ?, ?, ?, ?)').join(', ')}
       on conflict (source, seq) do nothing`,
      chunk.flatMap((e) => [source, e.seq, e.txId, e.entity, e.op, JSON.stringify(e), error.code, error.message, at]),
      'run',
      trx,
    );
  }
}
