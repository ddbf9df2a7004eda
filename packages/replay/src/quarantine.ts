import type { Connection, Transaction } from '@mikro-orm/core';
import type { OplogEntry, OplogError } from '@oplog/protocol';
import { TABLES } from './tables.js';

const TABLE = TABLES.quarantine;

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
