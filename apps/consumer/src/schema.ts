import { consumerEntities } from '@oplog/consumer';
import { DB_OPTIONS, loadConfig, schemaSql } from '@oplog/runtime';
import type { Command } from 'commander';
import { commandConfigSchema } from './config.js';
import { configSources, withDbFlags } from './db-flags.js';

/**
 * `oplog-consumer schema sql`: the DDL of the consumer's own tables (cursors, row owners, snapshot staging,
 * quarantine, credentials, lag samples), for the center's migrations; the replicated entities' tables are the app's
 * own migrations' business. Start the consumer with `--schema none` once they are applied.
 */
export function schemaCommand(program: Command): Command {
  const schema = program.command('schema').description("the consumer's own tables, for your migrations");
  withDbFlags(schema.command('sql'), DB_OPTIONS)
    .description(
      "print the DDL of the consumer's own tables for the configured database (--db-driver, or --orm-config's), without connecting",
    )
    .action(async (flags: Record<string, unknown>) => {
      const config = loadConfig(commandConfigSchema, configSources(flags, DB_OPTIONS));
      process.stdout.write(await schemaSql(config, consumerEntities));
    });
  return schema;
}
