#!/usr/bin/env -S node --conditions=@oplog/source --import tsx
import { consumerEntities, createConsumer } from '@oplog/consumer';
import { ConfigError, createLogger, loadConfig, loadEntities, openOrm, runServices } from '@oplog/runtime';
import { Command, Option } from 'commander';
import { consumerConfigSchema } from './config.js';

const program = new Command('oplog-consumer').description(
  'Receives oplog streams from local servers and replays them into this database.',
);

program
  .command('start', { isDefault: true })
  .description('listen for producers and apply their changes')
  .option('-c, --config <file>', 'JSON config file')
  .option('--host <host>', 'address to listen on (env OPLOG_LISTEN__HOST)')
  .option('--port <port>', 'port to listen on, 0 for any free one (env OPLOG_LISTEN__PORT)', Number)
  .addOption(
    new Option('--db-driver <driver>', 'database driver (env OPLOG_DB__DRIVER)').choices(['sqlite', 'postgresql']),
  )
  .option('--db-name <name>', 'SQLite file or PostgreSQL database name (env OPLOG_DB__NAME)')
  .option('--db-url <url>', 'PostgreSQL connection string (env OPLOG_DB__URL)')
  .option('--entities <module>', 'module exporting the replicated entities (env OPLOG_ENTITIES)')
  .addOption(
    new Option('--schema <mode>', 'create missing tables at start (env OPLOG_SCHEMA)').choices(['update', 'none']),
  )
  .addOption(
    new Option('--schema-policy <policy>', 'when a source schema differs (env OPLOG_SCHEMA_POLICY)').choices([
      'refuse',
      'apply-known',
    ]),
  )
  .action(async (flags) => {
    const logger = createLogger({ name: 'oplog-consumer' });
    const config = loadConfig(consumerConfigSchema, {
      file: flags.config,
      env: process.env,
      flags: {
        listen: { host: flags.host, port: flags.port },
        db: { driver: flags.dbDriver, name: flags.dbName, url: flags.dbUrl },
        entities: flags.entities,
        schema: flags.schema,
        schemaPolicy: flags.schemaPolicy,
      },
    });
    const entities = await loadEntities(config.entities);
    const orm = await openOrm(config.db, { entities: [...entities, ...consumerEntities] });
    if (config.schema === 'update') await orm.schema.updateSchema({ safe: true });
    const consumer = createConsumer(orm, {
      host: config.listen.host,
      port: config.listen.port,
      path: config.listen.path,
      tokens: config.tokens,
      schemaPolicy: config.schemaPolicy,
      maxPayload: config.maxPayload,
      maxConnections: config.maxConnections,
      peerTimeoutMs: config.peerTimeoutMs,
      dashboard: { token: config.dashboard.token, public: config.dashboard.public },
      lagSampleMs: config.dashboard.sampleMs,
      logger,
    });
    try {
      await runServices([consumer], logger);
    } finally {
      await orm.close();
    }
  });

program.parseAsync().catch((error: unknown) => {
  if (error instanceof ConfigError) {
    console.error(`oplog-consumer: ${error.message}`);
    process.exit(2);
  }
  console.error(error);
  process.exit(1);
});
