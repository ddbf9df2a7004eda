import type { MikroORM, Transaction } from '@mikro-orm/core';
import { type OplogEntry, OplogError } from '@oplog/protocol';
import type { Applier, ApplyContext } from './applier.js';

/** A key longer than this is cut in a message: the message must name the constraint within an error frame. */
const KEY_SHOWN = 200;
/** A constraint name longer than this (a database's own, so rarely) is cut likewise. */
const NAME_SHOWN = 128;

/**
 * OPLOG_POISON_CHANGE for entries the database refused by their data (`error`, a constraint violation), in words a
 * peer and the dashboard may read: the entity, key and constraint of the first entry that fails, never the SQL
 * (which quotes every row of the step and would be cut mid-cause). The driver's error stays the `cause`, for the
 * consumer's own log.
 */
export async function diagnosePoison(
  orm: MikroORM,
  applier: Applier,
  entries: readonly OplogEntry[],
  context: ApplyContext,
  error: unknown,
): Promise<OplogError> {
  const first = entries[0]!.seq;
  const last = entries.at(-1)!.seq;
  const found = await refusedEntry(orm, applier, entries, context);
  if (!found) return OplogError.poisonChange(first, last, describeConstraint(error), error);
  const { entry, error: own } = found;
  const what = `${entry.entity} ${shownKey(entry)}, change ${entry.seq}: ${describeConstraint(own)}`;
  return OplogError.poisonChange(first, last, what, error);
}

/**
 * The first entry the database refuses, with its own error: the entries are applied again in a transaction that is
 * always rolled back, halves at a time under a savepoint (a half that applies is kept, one that fails is rolled back
 * to and split), so finding one entry among n costs about 2n rows written, not n round trips. Undefined when every
 * entry applies on its own (the failure needed them grouped as the step was).
 */
async function refusedEntry(
  orm: MikroORM,
  applier: Applier,
  entries: readonly OplogEntry[],
  context: ApplyContext,
): Promise<{ entry: OplogEntry; error: unknown } | undefined> {
  let found: { entry: OplogEntry; error: unknown } | undefined;
  const rollback = new Error('diagnosis done');
  await orm.em
    .fork()
    .transactional(async (em) => {
      const trx = em.getTransactionContext<Transaction>()!;
      const connection = em.getConnection('write');
      const run = (sql: string) => connection.execute(sql, [], 'run', trx);
      const attempt = async (part: readonly OplogEntry[]): Promise<unknown> => {
        await run('savepoint oplog_diagnosis');
        try {
          await applier.apply(em, trx, part, context);
          await run('release savepoint oplog_diagnosis');
          return undefined;
        } catch (refused) {
          await run('rollback to savepoint oplog_diagnosis');
          await run('release savepoint oplog_diagnosis');
          return refused;
        }
      };
      // Invariant: entries before `low` are applied, and [low, high) fails on top of them.
      let low = 0;
      let high = entries.length;
      while (high - low > 1) {
        const middle = (low + high) >>> 1;
        if (await attempt(entries.slice(low, middle))) high = middle;
        else low = middle;
      }
      const refused = await attempt(entries.slice(low, high));
      if (refused) found = { entry: entries[low]!, error: refused };
      throw rollback;
    })
    .catch((error: unknown) => {
      if (error !== rollback) throw error;
    });
  return found;
}

const PG_KINDS: Record<string, string> = {
  '23502': 'not null',
  '23503': 'foreign key',
  '23505': 'unique',
  '23514': 'check',
  '23P01': 'exclusion',
};
const SQLITE_KINDS = ['PRIMARY KEY', 'FOREIGN KEY', 'NOT NULL', 'UNIQUE', 'CHECK'];
const FAILED = ' constraint failed';

/**
 * "foreign key constraint choice_question_id_foreign failed", from the driver's fields (PostgreSQL keeps the
 * constraint's name on the error) or the end of SQLite's message. The SQL a message may start with quotes row data,
 * which could imitate anything: only the message's end, which the driver wrote, is read.
 */
export function describeConstraint(error: unknown): string {
  const { code, constraint, table, column, message } = error as Record<string, unknown>;
  const pgKind = typeof code === 'string' ? PG_KINDS[code] : undefined;
  if (pgKind) {
    const name =
      typeof constraint === 'string' ? constraint : typeof column === 'string' ? `${table}.${column}` : undefined;
    return `${pgKind} constraint${name ? ` ${name.slice(0, NAME_SHOWN)}` : ''} failed`;
  }
  const text = typeof message === 'string' ? message : '';
  const at = text.lastIndexOf(FAILED);
  if (at < 0) return 'a constraint failed';
  const kind = SQLITE_KINDS.find((k) => text.slice(0, at).endsWith(k));
  const rest = text.slice(at + FAILED.length);
  const name = rest.startsWith(': ') ? ` ${rest.slice(2).slice(0, NAME_SHOWN)}` : '';
  return `${kind ? `${kind.toLowerCase()} ` : ''}constraint${name} failed`;
}

function shownKey(entry: OplogEntry): string {
  const key = JSON.stringify(entry.pk);
  return key.length > KEY_SHOWN ? `${key.slice(0, KEY_SHOWN)}…` : key;
}
