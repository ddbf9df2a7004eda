import type { Connection } from '@mikro-orm/core';
import { OUTBOX_TABLES } from '@oplog/capture';

/** The channel a PostgreSQL sidecar LISTENs on; the outbox's statement trigger NOTIFYs it. */
export const NOTIFY_CHANNEL = 'oplog_stream';

const NAME = 'oplog_stream_notify';
const FUNCTION = `create or replace function ${NAME}() returns trigger language plpgsql as $$ begin perform pg_notify('${NOTIFY_CHANNEL}', ''); return null; end $$;`;
// EXECUTE FUNCTION needs PostgreSQL 11; CREATE OR REPLACE TRIGGER would need 14.
const CREATE_TRIGGER = `create trigger ${NAME} after insert on ${OUTBOX_TABLES.entry} for each statement execute function ${NAME}();`;

/**
 * The PostgreSQL sidecar's wake-up, for the app's migrations (`oplog-producer schema sql` prints it): a function and
 * a statement trigger on the outbox that notify the producer of each commit, so the app's own path sends nothing.
 * Safe to run where a producer created them already.
 */
export function notifyTriggerSql(): string[] {
  return [FUNCTION, `drop trigger if exists ${NAME} on ${OUTBOX_TABLES.entry};\n${CREATE_TRIGGER}`];
}

/** PostgreSQL's code for an object that exists already (a producer that created the trigger at the same moment). */
const DUPLICATE_OBJECT = '42710';

/**
 * Creates the trigger (and its function) when the outbox has none, in one transaction; else changes nothing. Never
 * replacing it at start keeps every start free of DDL: no lock on the outbox that the app's writes would queue
 * behind, and no need for the rights to create it once migrations did (a producer's role may only read and trim).
 */
export async function ensureNotifyTrigger(connection: Connection): Promise<void> {
  const found = await connection.execute<unknown[]>(
    `select 1 from pg_trigger where tgname = '${NAME}' and tgrelid = to_regclass('${OUTBOX_TABLES.entry}')`,
  );
  if (found.length > 0) return;
  try {
    // One query string is one transaction in PostgreSQL's simple protocol: the function never stays alone.
    await connection.execute(`${FUNCTION}\n${CREATE_TRIGGER}`);
  } catch (error) {
    if ((error as { code?: string }).code !== DUPLICATE_OBJECT) throw error;
  }
}
