import type { Command } from 'commander';
import { Option } from 'commander';

/** The flags every command that opens the central database takes (start and sources alike). */
export function withDbFlags(command: Command): Command {
  return command
    .option('-c, --config <file>', 'JSON config file')
    .addOption(
      new Option('--db-driver <driver>', 'database driver (env OPLOG_DB__DRIVER)').choices(['sqlite', 'postgresql']),
    )
    .option('--db-name <name>', 'SQLite file or PostgreSQL database name (env OPLOG_DB__NAME)')
    .option('--db-url <url>', 'PostgreSQL connection string (env OPLOG_DB__URL)')
    .addOption(
      new Option('--schema <mode>', 'create missing tables at start (env OPLOG_SCHEMA)').choices(['update', 'none']),
    );
}

export interface DbFlags {
  config?: string;
  dbDriver?: string;
  dbName?: string;
  dbUrl?: string;
  schema?: string;
}

/** The config sources for loadConfig: the file, the environment, and these flags nested as the config is. */
export function dbConfigSources(flags: DbFlags, extra: Record<string, unknown> = {}) {
  return {
    file: flags.config,
    env: process.env,
    flags: { db: { driver: flags.dbDriver, name: flags.dbName, url: flags.dbUrl }, schema: flags.schema, ...extra },
  };
}
