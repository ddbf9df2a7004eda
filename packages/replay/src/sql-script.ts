import type { MikroORM } from '@mikro-orm/core';
import { onPostgres } from '@oplog/capture';

export interface SqlStatement {
  sql: string;
  params: unknown[];
}

/** The native connection knex pools for SQLite (node-sqlite3's Database): exec runs several statements at once. */
interface SqliteDatabase {
  exec(sql: string, done: (error: Error | null) => void): void;
}

interface KnexClient {
  acquireConnection(): Promise<SqliteDatabase>;
  releaseConnection(connection: SqliteDatabase): Promise<void>;
}

/**
 * Runs statements as one transaction, in one trip to the database. A streamed step is a handful of statements, and
 * sent one at a time (each awaited, through the ORM's query path) their round trips were most of a change's latency.
 * - PostgreSQL runs the statements of one simple query as one implicit transaction: all of them commit, or none.
 * - SQLite runs them with exec between a begin and a commit, on the connection knex pools (as MikroORM's own
 *   loadFile does), and rolls back if any fails.
 * Values are inlined by the platform's own quoting, as MikroORM's execute does for every query. Throws the driver's
 * converted exception (a ConstraintViolationException when the data breaks a constraint).
 */
export async function runScript(orm: MikroORM, statements: readonly SqlStatement[]): Promise<void> {
  const driver = orm.em.getDriver();
  const connection = driver.getConnection('write');
  const platform = driver.getPlatform();
  const script = statements.map(({ sql, params }) => platform.formatQuery(sql, params)).join(';\n');
  try {
    if (onPostgres(platform)) {
      await connection.execute(script, [], 'run');
      return;
    }
    const client = (connection as unknown as { getKnex(): { client: KnexClient } }).getKnex().client;
    const database = await client.acquireConnection();
    try {
      await exec(database, `begin;\n${script};\ncommit`).catch(async (error: unknown) => {
        // A failed statement leaves the transaction open (a failed begin leaves none, and the rollback then fails).
        await exec(database, 'rollback').catch(() => {});
        throw error;
      });
    } finally {
      await client.releaseConnection(database);
    }
  } catch (error) {
    throw driver.convertException(error as Error);
  }
}

function exec(database: SqliteDatabase, sql: string): Promise<void> {
  return new Promise((resolve, reject) => database.exec(sql, (error) => (error ? reject(error) : resolve())));
}
