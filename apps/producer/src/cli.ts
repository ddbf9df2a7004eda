#!/usr/bin/env -S node --conditions=@oplog/source --import tsx
import { OplogCapture, oplogEntities } from '@oplog/capture';
import { createProducer } from '@oplog/producer';
import { ConfigError, createLogger, loadConfig, loadEntities, openOrm, runServices } from '@oplog/runtime';
import { Command, Option } from 'commander';
import { producerConfigSchema } from './config.js';

const program = new Command('oplog-producer').description(
  "Streams a local app's oplog to the central consumer (a sidecar next to the app, on the same database).",
);

program
  .command('start', { isDefault: true })
  .description('stream the outbox and trim what the consumer acked')
  .option('-c, --config <file>', 'JSON config file')
  .option('--url <url>', 'consumer endpoint, ws:// or wss:// (env OPLOG_URL)')
  .option('--token <token>', 'this source credential (env OPLOG_TOKEN)')
  .addOption(
    new Option('--db-driver <driver>', 'database driver (env OPLOG_DB__DRIVER)').choices(['sqlite', 'postgresql']),
  )
  .option('--db-name <name>', 'SQLite file or PostgreSQL database name (env OPLOG_DB__NAME)')
  .option('--db-url <url>', 'PostgreSQL connection string (env OPLOG_DB__URL)')
  .option('--entities <module>', "module exporting the app's entities (env OPLOG_ENTITIES)")
  .option('--retain-acked <n>', 'acked entries to keep before trimming (env OPLOG_RETAIN_ACKED)', Number)
  .option('--poll-ms <ms>', 'fallback poll for new commits (env OPLOG_POLL_MS)', Number)
  .action(async (flags) => {
    const logger = createLogger({ name: 'oplog-producer' });
    const config = loadConfig(producerConfigSchema, {
      file: flags.config,
      env: process.env,
      flags: {
        url: flags.url,
        token: flags.token,
        db: { driver: flags.dbDriver, name: flags.dbName, url: flags.dbUrl },
        entities: flags.entities,
        retainAcked: flags.retainAcked,
        pollMs: flags.pollMs,
      },
    });
    const entities = await loadEntities(config.entities);
    const orm = await openOrm(config.db, { entities: [...entities, ...oplogEntities], pool: { min: 1, max: 2 } });
    const producer = createProducer(orm, {
      url: config.url,
      token: config.token,
      batch: config.batch,
      retainAcked: config.retainAcked,
      pollMs: config.pollMs,
      heartbeatMs: config.heartbeatMs,
      peerTimeoutMs: config.peerTimeoutMs,
      backoff: config.backoff,
      capture: new OplogCapture({ include: config.include, exclude: config.exclude }),
      logger,
    });
    try {
      await runServices([producer], logger);
    } finally {
      await orm.close();
    }
  });

program.parseAsync().catch((error: unknown) => {
  if (error instanceof ConfigError) {
    console.error(`oplog-producer: ${error.message}`);
    process.exit(2);
  }
  console.error(error);
  process.exit(1);
});
