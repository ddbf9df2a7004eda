import type { MikroORM } from '@mikro-orm/core';
import { onPostgres, oplogEntities } from '@oplog/capture';
import { notifyTriggerSql } from '@oplog/producer';
import { addConfigOptions, DB_OPTIONS, loadConfig, schemaSql } from '@oplog/runtime';
import type { Command } from 'commander';
import { commandConfigSchema, configSources } from './config.js';

/**
 * `oplog-producer schema sql`: the DDL of the outbox (its two tables) and, on PostgreSQL, of the trigger that wakes
 * the sidecar, for the app's migrations. A producer finds the trigger there and creates nothing at start.
 */
export function schemaCommand(program: Command, configFileHelp: string): Command {
  const schema = program.command('schema').description('the outbox tables and trigger, for your migrations');
  addConfigOptions(schema.command('sql'), commandConfigSchema, DB_OPTIONS)
    .description(
      "print the DDL of the outbox tables (and on PostgreSQL its trigger) for the configured database (--db-driver, or --orm-config's), without connecting",
    )
    .option('-c, --config <file>', configFileHelp)
    .action(async (flags: Record<string, unknown>) => {
      const config = loadConfig(commandConfigSchema, configSources(flags));
      const trigger = (orm: MikroORM) => (onPostgres(orm.em.getPlatform()) ? notifyTriggerSql() : []);
      process.stdout.write(await schemaSql(config, oplogEntities, trigger));
    });
  return schema;
}
