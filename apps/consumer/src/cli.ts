#!/usr/bin/env node
import { consumerEntities, createConsumer } from '@oplog/consumer';
import {
  addConfigOptions,
  type CliContext,
  createLogger,
  exitWithFailure,
  loadAppOrm,
  loadConfig,
  openOrm,
  packageVersion,
  runServices,
  usageLine,
} from '@oplog/runtime';
import { Command } from 'commander';
import { consumerConfigSchema, consumerSettings, DATABASE_OPTIONS, START_OPTIONS } from './config.js';
import { configSources, withDbFlags } from './db-flags.js';
import { schemaCommand } from './schema.js';
import { sourcesCommand } from './sources.js';

const CLI: CliContext = {
  program: 'oplog-consumer',
  options: [...START_OPTIONS, ...DATABASE_OPTIONS],
  listenSetting: 'listen',
  createTables:
    "the consumer's own tables come from `oplog-consumer schema sql` (for your migrations) or from --schema update, the replicated ones from your migrations",
};

const program = new Command(CLI.program)
  .description('Receives oplog streams from local servers and replays them into this database.')
  .version(packageVersion(import.meta.url))
  .exitOverride()
  .configureOutput({ outputError: (text, write) => write(usageLine(CLI.program, text)) });

withDbFlags(addConfigOptions(program.command('start', { isDefault: true }), consumerSettings, START_OPTIONS))
  .description('listen for producers and apply their changes')
  .action(async (flags: Record<string, unknown>) => {
    const config = loadConfig(consumerConfigSchema, configSources(flags, CLI.options));
    const logger = createLogger({ name: CLI.program });
    const app = await loadAppOrm(config);
    const orm = await openOrm(config.db, { entities: [...app.entities, ...consumerEntities] }, app.config);
    try {
      if (config.schema === 'update') await orm.schema.updateSchema({ safe: true });
      const consumer = createConsumer(orm, {
        host: config.listen.host,
        port: config.listen.port,
        path: config.listen.path,
        schemaPolicy: config.schemaPolicy,
        poison: config.poison,
        sharedEntities: config.sharedEntities,
        auth: config.auth,
        credentialCheckMs: config.credentialCheckMs,
        tls: config.tls,
        maxPayload: config.maxPayload,
        maxConnections: config.maxConnections,
        maxBatchEntries: config.maxBatchEntries,
        maxEntriesPerSecond: config.maxEntriesPerSecond,
        requestTimeoutMs: config.requestTimeoutMs,
        peerTimeoutMs: config.peerTimeoutMs,
        dashboard: { token: config.dashboard.token, public: config.dashboard.public },
        lagSampleMs: config.dashboard.sampleMs,
        logger,
      });
      // Before runServices, so that a refusal to start (OPLOG_CENTER_LOCKED: another consumer holds this database;
      // a port in use) exits with one line on stderr rather than a log of a failed service.
      await consumer.listen();
      await runServices([consumer], logger);
    } finally {
      await orm.close();
    }
  });

sourcesCommand(program);
schemaCommand(program);

program.parseAsync().catch((error: unknown) => exitWithFailure(error, CLI));
